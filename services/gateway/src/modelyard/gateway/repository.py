"""Organisations, users and API keys in the gateway schema."""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg

from modelyard.contracts.api.identity import Principal, Role, User, UserWithKey
from modelyard.contracts.events import AuditRecorded, UserCreated
from modelyard.gateway import keys
from modelyard.runtime import outbox

SERVICE = "gateway"
# ensure_org and issue_key run in a live platform only from the bootstrap, which also creates its admin as this
BOOTSTRAP, BOOTSTRAP_CORRELATION = "service:bootstrap", "bootstrap"


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
            key, _, _ = await _insert_key(conn, org_id, user_id)  # the first key is part of user.created
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

    async def ensure_org(
        self, name: str, *, actor: str = BOOTSTRAP, correlation_id: str = BOOTSTRAP_CORRELATION
    ) -> uuid.UUID:
        """The organisation of that name, created (and audited as `org.created`, in the same transaction) when it
        does not exist yet. The bootstrap is the one caller in a running platform, hence the defaults."""
        async with self._pool.acquire() as conn, conn.transaction():
            # xmax is 0 on a freshly inserted row, set on one the upsert only touched
            row = await conn.fetchrow(
                """INSERT INTO orgs (id, name) VALUES ($1, $2)
                   ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name RETURNING id, plan, (xmax = 0) AS created""",
                uuid.uuid4(),
                name,
            )
            assert row is not None
            org_id: uuid.UUID = row["id"]
            if row["created"]:
                await outbox.enqueue(
                    conn,
                    AuditRecorded(
                        correlation_id=correlation_id,
                        org_id=org_id,
                        actor=actor,
                        service=SERVICE,
                        action="org.created",
                        resource_type="org",
                        resource_id=str(org_id),
                        detail={"name": name, "plan": row["plan"]},
                    ),
                )
        return org_id

    async def super_admin(self, org_id: uuid.UUID) -> uuid.UUID | None:
        found: uuid.UUID | None = await self._pool.fetchval(
            "SELECT id FROM users WHERE org_id = $1 AND role = $2 AND NOT disabled ORDER BY created_at LIMIT 1",
            org_id,
            Role.SUPER_ADMIN.value,
        )
        return found

    async def issue_key(
        self,
        org_id: uuid.UUID,
        user_id: uuid.UUID,
        *,
        actor: str = BOOTSTRAP,
        correlation_id: str = BOOTSTRAP_CORRELATION,
    ) -> str:
        """Another key for an existing user, audited as `api_key.issued` (which key, whose; never the key itself)
        in the same transaction. The bootstrap is the one caller in a running platform, hence the defaults."""
        async with self._pool.acquire() as conn, conn.transaction():
            key, key_id, prefix = await _insert_key(conn, org_id, user_id)
            await outbox.enqueue(
                conn,
                AuditRecorded(
                    correlation_id=correlation_id,
                    org_id=org_id,
                    actor=actor,
                    service=SERVICE,
                    action="api_key.issued",
                    resource_type="api_key",
                    resource_id=str(key_id),
                    detail={"user_id": str(user_id), "prefix": prefix},
                ),
            )
        return key


async def _insert_key(conn: asyncpg.Connection, org_id: uuid.UUID, user_id: uuid.UUID) -> tuple[str, uuid.UUID, str]:
    """A new key for the user; returns the key itself (which is not stored), its id and its public prefix."""
    key, prefix, key_hash = keys.new_key()
    key_id = uuid.uuid4()
    await conn.execute(
        "INSERT INTO api_keys (id, org_id, user_id, prefix, key_sha256) VALUES ($1, $2, $3, $4, $5)",
        key_id,
        org_id,
        user_id,
        prefix,
        key_hash,
    )
    return key, key_id, prefix
