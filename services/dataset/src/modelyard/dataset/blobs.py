"""Keys of the objects only the dataset service writes (shared keys are in contracts.storage)."""

from __future__ import annotations

from uuid import UUID


def upload_key(upload_id: UUID) -> str:
    return f"uploads/{upload_id}"


def export_key(manifest_sha256: str) -> str:
    return f"exports/{manifest_sha256}.zip"
