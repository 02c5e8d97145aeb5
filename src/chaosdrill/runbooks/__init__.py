"""Runbooks: the model, loading from YAML, the executor and the renderer for people."""
