"""First start of a stack: a default organisation and a super admin whose key is written to a file (mode 0600).

Running it again is harmless: an existing super admin and token file are kept. If the token file was lost, a new
key is issued for the existing super admin (the old one stays valid until revoked).
"""

from __future__ import annotations

import os
from pathlib import Path

from modelyard.contracts.api.identity import Role
from modelyard.gateway.repository import IdentityRepository
from modelyard.gateway.settings import SCHEMA, Settings
from modelyard.runtime.db import open_pool
from modelyard.runtime.migrations import load_migrations, migrate, runtime_migrations


async def bootstrap(settings: Settings, org_name: str, token_file: Path) -> tuple[str, bool]:
    """Returns (the super admin's key, whether it is new)."""
    kept = token_file.read_text().strip() if token_file.exists() else None  # noqa: ASYNC240 - tiny file, once
    key = await _ensure_admin(settings, org_name, have_key=kept is not None)
    if key is None:
        assert kept is not None
        return kept, False
    _write_secret(token_file, key)
    return key, True


async def _ensure_admin(settings: Settings, org_name: str, *, have_key: bool) -> str | None:
    """A new key when there was no super admin, or when the caller lost its key; None when nothing changed."""
    async with open_pool(settings.database_url, SCHEMA) as pool:
        await migrate(pool, SCHEMA, runtime_migrations() + load_migrations("modelyard.gateway.migrations"))
        repo = IdentityRepository(pool)
        org_id = await repo.ensure_org(org_name)
        admin = await repo.super_admin(org_id)
        if admin is not None and have_key:
            return None
        if admin is None:
            user = await repo.create_user(
                org_id, "admin", Role.SUPER_ADMIN, actor="service:bootstrap", correlation_id="bootstrap"
            )
            return user.api_key
        return await repo.issue_key(org_id, admin)


def _write_secret(token_file: Path, key: str) -> None:
    token_file.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(token_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key + "\n")
    os.chmod(token_file, 0o600)
