"""Drill plans, plan runs and the CI gate."""
