"""Organisations, users and API keys in the gateway schema."""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg

from modelyard.contracts.api.identity import Principal, Role, User, UserWithKey
from modelyard.contracts.events import UserCreated
from modelyard.gateway import keys
from modelyard.runtime import outbox


class IdentityRepository:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def principal_for_key(self, key: str) -> Principal | None:
        row = await self._pool.fetchrow(
            """UPDATE api_keys k SET last_used_at = now()
               FROM users u JOIN orgs o ON o.id = u.org_id
               WHERE k.key_sha256 = $1 AND k.revoked_at IS NULL AND u.id = k.user_id AND NOT u.disabled
               RETURNING k.org_id, k.user_id, u.role, o.plan""",
            keys.digest(key),
        )
        if row is None:
            return None
        return Principal(org_id=row["org_id"], user_id=row["user_id"], role=Role(row["role"]), plan=row["plan"])

    async def create_user(
        self, org_id: uuid.UUID, name: str, role: Role, *, actor: str, correlation_id: str
    ) -> UserWithKey:
        """The user, its first API key and a UserCreated audit event, in one transaction."""
        user_id = uuid.uuid4()
        async with self._pool.acquire() as conn, conn.transaction():
            created_at: datetime = await conn.fetchval(
                "INSERT INTO users (id, org_id, name, role) VALUES ($1, $2, $3, $4) RETURNING created_at",
                user_id,
                org_id,
                name,
                role.value,
            )
            key = await _insert_key(conn, org_id, user_id)
            event = UserCreated(
                correlation_id=correlation_id,
                org_id=org_id,
                actor=actor,
                user_id=user_id,
                name=name,
                role=role,
            )
            await outbox.enqueue(conn, event)
        return UserWithKey(id=user_id, org_id=org_id, name=name, role=role, created_at=created_at, api_key=key)

    async def get_user(self, org_id: uuid.UUID, user_id: uuid.UUID) -> User | None:
        row = await self._pool.fetchrow(
            "SELECT id, org_id, name, role, created_at FROM users WHERE org_id = $1 AND id = $2",
            org_id,
            user_id,
        )
        return None if row is None else User.model_validate(dict(row))

    async def ensure_org(self, name: str) -> uuid.UUID:
        org_id: uuid.UUID = await self._pool.fetchval(
            """INSERT INTO orgs (id, name) VALUES ($1, $2)
               ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name RETURNING id""",
            uuid.uuid4(),
            name,
        )
        return org_id

    async def super_admin(self, org_id: uuid.UUID) -> uuid.UUID | None:
        found: uuid.UUID | None = await self._pool.fetchval(
            "SELECT id FROM users WHERE org_id = $1 AND role = $2 AND NOT disabled ORDER BY created_at LIMIT 1",
            org_id,
            Role.SUPER_ADMIN.value,
        )
        return found

    async def issue_key(self, org_id: uuid.UUID, user_id: uuid.UUID) -> str:
        async with self._pool.acquire() as conn:
            return await _insert_key(conn, org_id, user_id)


async def _insert_key(conn: asyncpg.Connection, org_id: uuid.UUID, user_id: uuid.UUID) -> str:
    """A new key for the user; returns the key itself, which is not stored."""
    key, prefix, key_hash = keys.new_key()
    await conn.execute(
        "INSERT INTO api_keys (id, org_id, user_id, prefix, key_sha256) VALUES ($1, $2, $3, $4, $5)",
        uuid.uuid4(),
        org_id,
        user_id,
        prefix,
        key_hash,
    )
    return key
