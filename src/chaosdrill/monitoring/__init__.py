"""Monitoring configuration: Prometheus rule files and their scaling to a drill's time scale."""
