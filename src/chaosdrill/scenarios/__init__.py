"""Scenarios: the model of a symptom class and its loading from YAML."""
