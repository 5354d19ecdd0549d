"""Object-store keys shared between services: sample blobs (content-addressed, shared by every dataset of every
org that holds the same bytes) and version manifests. Producers and consumers build keys only through these."""

from __future__ import annotations


def blob_key(sha256: str) -> str:
    return f"blobs/sha256/{sha256[:2]}/{sha256}"


def manifest_key(sha256: str) -> str:
    return f"manifests/{sha256}.json"
