"""Versioned SQL migrations of the registry schema, applied at start."""
