"""Packaged presets of the forecast plugin (YAML files read with importlib.resources)."""
