"""The model registry: versions with lineage, the approval gate, signed releases, rollback, default models."""
