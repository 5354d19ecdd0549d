"""Semantic versions of a module's models: each new training bumps the minor unless the request names a version."""

from __future__ import annotations

from collections.abc import Iterable

FIRST = "1.0.0"


def parse(version: str) -> tuple[int, int, int]:
    major, minor, patch = (int(part) for part in version.split("."))
    return major, minor, patch


def next_minor(existing: Iterable[str]) -> str:
    versions = [parse(v) for v in existing]
    if not versions:
        return FIRST
    major, minor, _ = max(versions)
    return f"{major}.{minor + 1}.0"
