"""Object-store keys shared between services: sample blobs (content-addressed, shared by every dataset of every
org that holds the same bytes) and version manifests. Producers and consumers build keys only through these."""

from __future__ import annotations


def blob_key(sha256: str) -> str:
    return f"blobs/sha256/{sha256[:2]}/{sha256}"


def manifest_key(sha256: str) -> str:
    return f"manifests/{sha256}.json"


def release_key(org_id: object, ai_module: str, counter: int, name: str) -> str:
    """A signed release's files: model.onnx and release.json, and the signature bundle beside them."""
    return f"releases/{org_id}/{ai_module}/{counter}/{name}"
