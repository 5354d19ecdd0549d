"""Versioned SQL migrations of the distribution schema, applied at start."""
