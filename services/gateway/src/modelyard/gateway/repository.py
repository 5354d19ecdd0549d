"""Organisations, users and API keys in the gateway schema."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from modelyard.contracts.api.identity import (
    ApiKey,
    ApiKeyWithSecret,
    Org,
    OrgWithAdmin,
    Permission,
    Principal,
    Role,
    User,
    UserWithKey,
)
from modelyard.contracts.events import AuditRecorded, UserCreated
from modelyard.contracts.plans import Plan
from modelyard.gateway import keys
from modelyard.runtime import outbox

SERVICE = "gateway"
_KEY_COLUMNS = "id, user_id, name, prefix, scopes, created_at, last_used_at, expires_at, revoked_at"
# ensure_org and issue_key run in a live platform only from the bootstrap, which also creates its admin as this
BOOTSTRAP, BOOTSTRAP_CORRELATION = "service:bootstrap", "bootstrap"


@dataclass(frozen=True, slots=True)
class KeyRecord:
    id: uuid.UUID
    principal: Principal
    expires_at: datetime | None


class IdentityRepository:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def key_for(self, key: str) -> KeyRecord | None:
        """The key's owner as a principal, or None for an unknown or revoked key (an expired one is returned: the
        caller says why it is refused). Records the use: callers cache the answer, so this runs about once a key
        per cache period, which is what `last_used_at` is precise to."""
        row = await self._pool.fetchrow(
            """UPDATE api_keys k SET last_used_at = now()
               FROM users u JOIN orgs o ON o.id = u.org_id
               WHERE k.key_sha256 = $1 AND k.revoked_at IS NULL AND u.id = k.user_id AND NOT u.disabled
               RETURNING k.id, k.org_id, k.user_id, u.role, o.plan, k.scopes, k.expires_at""",
            keys.digest(key),
        )
        if row is None:
            return None
        scopes = None if row["scopes"] is None else frozenset(Permission(s) for s in row["scopes"])
        principal = Principal(
            org_id=row["org_id"], user_id=row["user_id"], role=Role(row["role"]), plan=row["plan"], scopes=scopes
        )
        return KeyRecord(id=row["id"], principal=principal, expires_at=row["expires_at"])

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
                event = _audit(org_id, actor, correlation_id, "org.created", "org", org_id, name=name, plan=row["plan"])
                await outbox.enqueue(conn, event)
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
            detail = {"user_id": str(user_id), "prefix": prefix}
            await outbox.enqueue(
                conn, _audit(org_id, actor, correlation_id, "api_key.issued", "api_key", key_id, **detail)
            )
        return key

    async def create_key(
        self,
        owner: Principal,
        name: str,
        scopes: list[Permission] | None,
        expires_at: datetime | None,
        *,
        correlation_id: str,
    ) -> ApiKeyWithSecret:
        """Another key for the caller itself, audited as `api_key.issued` in the same transaction."""
        async with self._pool.acquire() as conn, conn.transaction():
            key, key_id, prefix = await _insert_key(
                conn, owner.org_id, owner.user_id, name=name, scopes=scopes, expires_at=expires_at
            )
            scope_names = None if scopes is None else sorted(p.value for p in scopes)
            await outbox.enqueue(
                conn,
                _audit(
                    owner.org_id,
                    owner.actor,
                    correlation_id,
                    "api_key.issued",
                    "api_key",
                    key_id,
                    user_id=str(owner.user_id),
                    prefix=prefix,
                    name=name,
                    scopes=scope_names,
                    expires_at=None if expires_at is None else expires_at.isoformat(),
                ),
            )
            row = await conn.fetchrow(f"SELECT {_KEY_COLUMNS} FROM api_keys WHERE id = $1", key_id)
        return ApiKeyWithSecret.model_validate(dict(row or {}) | {"api_key": key})

    async def list_keys(self, org_id: uuid.UUID, user_id: uuid.UUID | None) -> list[ApiKey]:
        """The org's keys (user_id None) or one user's, newest first."""
        rows = await self._pool.fetch(
            f"""SELECT {_KEY_COLUMNS} FROM api_keys WHERE org_id = $1 AND ($2::uuid IS NULL OR user_id = $2)
                ORDER BY created_at DESC, id""",
            org_id,
            user_id,
        )
        return [ApiKey.model_validate(dict(r)) for r in rows]

    async def revoke_key(
        self, caller: Principal, key_id: uuid.UUID, *, any_user: bool, correlation_id: str
    ) -> ApiKey | None:
        """Revoke one of the caller's keys (or, `any_user`, any key of its org); None when there is no such key.
        Revoking a revoked key changes nothing and records nothing."""
        async with self._pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                f"""SELECT {_KEY_COLUMNS} FROM api_keys
                    WHERE id = $1 AND org_id = $2 AND ($3 OR user_id = $4) FOR UPDATE""",
                key_id,
                caller.org_id,
                any_user,
                caller.user_id,
            )
            if row is None or row["revoked_at"] is not None:
                return None if row is None else ApiKey.model_validate(dict(row))
            row = await conn.fetchrow(
                f"UPDATE api_keys SET revoked_at = now() WHERE id = $1 RETURNING {_KEY_COLUMNS}", key_id
            )
            assert row is not None
            await outbox.enqueue(
                conn,
                _audit(
                    caller.org_id,
                    caller.actor,
                    correlation_id,
                    "api_key.revoked",
                    "api_key",
                    key_id,
                    user_id=str(row["user_id"]),
                    prefix=row["prefix"],
                ),
            )
        return ApiKey.model_validate(dict(row))

    async def revoked_since(self, seconds: float) -> list[uuid.UUID]:
        """Keys revoked in the last `seconds`: their access tokens may still be unexpired."""
        rows = await self._pool.fetch(
            "SELECT id FROM api_keys WHERE revoked_at > now() - make_interval(secs => $1)", seconds
        )
        return [r["id"] for r in rows]

    async def create_org(
        self, name: str, plan: Plan, admin_name: str, *, actor: str, correlation_id: str
    ) -> OrgWithAdmin | None:
        """A new organisation with its first org_admin and that admin's key, audited (`org.created`,
        `user.created`) in one transaction; None when the name is taken."""
        org_id, admin_id = uuid.uuid4(), uuid.uuid4()
        async with self._pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                """INSERT INTO orgs (id, name, plan) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING
                   RETURNING id, name, plan, created_at""",
                org_id,
                name,
                plan.value,
            )
            if row is None:
                return None
            await outbox.enqueue(
                conn, _audit(org_id, actor, correlation_id, "org.created", "org", org_id, name=name, plan=plan.value)
            )
            await conn.execute(
                "INSERT INTO users (id, org_id, name, role) VALUES ($1, $2, $3, $4)",
                admin_id,
                org_id,
                admin_name,
                Role.ORG_ADMIN.value,
            )
            key, _, _ = await _insert_key(conn, org_id, admin_id)
            await outbox.enqueue(
                conn,
                UserCreated(
                    correlation_id=correlation_id,
                    org_id=org_id,
                    actor=actor,
                    user_id=admin_id,
                    name=admin_name,
                    role=Role.ORG_ADMIN,
                ),
            )
        return OrgWithAdmin.model_validate(dict(row) | {"admin_user_id": admin_id, "admin_api_key": key})

    async def get_org(self, org_id: uuid.UUID) -> Org | None:
        row = await self._pool.fetchrow("SELECT id, name, plan, created_at FROM orgs WHERE id = $1", org_id)
        return None if row is None else Org.model_validate(dict(row))

    async def list_orgs(self) -> list[Org]:
        rows = await self._pool.fetch("SELECT id, name, plan, created_at FROM orgs ORDER BY created_at, id")
        return [Org.model_validate(dict(r)) for r in rows]


async def _insert_key(
    conn: asyncpg.Connection,
    org_id: uuid.UUID,
    user_id: uuid.UUID,
    *,
    name: str = "",
    scopes: list[Permission] | None = None,
    expires_at: datetime | None = None,
) -> tuple[str, uuid.UUID, str]:
    """A new key for the user; returns the key itself (which is not stored), its id and its public prefix."""
    key, prefix, key_hash = keys.new_key()
    key_id = uuid.uuid4()
    await conn.execute(
        """INSERT INTO api_keys (id, org_id, user_id, prefix, key_sha256, name, scopes, expires_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8)""",
        key_id,
        org_id,
        user_id,
        prefix,
        key_hash,
        name,
        None if scopes is None else [p.value for p in scopes],
        expires_at,
    )
    return key, key_id, prefix


def _audit(
    principal_org: uuid.UUID, actor: str, correlation_id: str, action: str, kind: str, target: uuid.UUID, **detail: Any
) -> AuditRecorded:
    return AuditRecorded(
        correlation_id=correlation_id,
        org_id=principal_org,
        actor=actor,
        service=SERVICE,
        action=action,
        resource_type=kind,
        resource_id=str(target),
        detail=detail,
    )
