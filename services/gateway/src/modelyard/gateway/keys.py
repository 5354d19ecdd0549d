"""API keys: `myk_<prefix>_<secret>`, random from `secrets`, stored only as sha256 (the keys are 256-bit random,
so a slow password hash adds nothing; a fast hash keeps every request's lookup cheap)."""

from __future__ import annotations

import hashlib
import secrets

KEY_PREFIX = "myk_"


def new_key() -> tuple[str, str, str]:
    """(key to show once, its display prefix, its sha256 to store)."""
    prefix = secrets.token_hex(4)
    key = f"{KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    return key, prefix, digest(key)


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def looks_like_key(value: str) -> bool:
    return value.startswith(KEY_PREFIX) and 20 < len(value) < 200
