"""Packaged preset YAML files, read with importlib.resources (one per framework and task)."""
