"""Modelyard trainer worker: pulls one job at a time and runs a framework plugin in a subprocess."""
