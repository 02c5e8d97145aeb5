"""Probes: alerts and pages, data integrity, the smoke drive, Prometheus series."""
