"""The registry's tables: model versions, their history, modules (release counter, default model), releases."""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

import asyncpg

from modelyard.contracts.api.models import (
    Lineage,
    ModelQuery,
    ModelStatus,
    ModelVersion,
    RegistrySettings,
    Release,
    ReleaseFile,
)
from modelyard.contracts.api.training import Artifact
from modelyard.registry.errors import ModelNotFound, NotReleased
from modelyard.runtime.db import fetch_page

_VIEW_COLUMNS = (
    "id, org_id, ai_module, version, name, task, framework, status, metrics, artifacts, job_id, notes, is_default, "
    "release_counter, approved_by, approved_at, released_at, created_at, updated_at"
)
_RELEASE_COLUMNS = (
    "id, org_id, ai_module, model_id, counter, kind, reason, files, signature_key, key_id, issued_at, expires_at, "
    "released_by"
)


def to_version(row: asyncpg.Record) -> ModelVersion:
    data = {k: row[k] for k in _VIEW_COLUMNS.split(", ")}
    data["artifacts"] = [Artifact.model_validate(a) for a in data["artifacts"]]
    return ModelVersion.model_validate(data)


def to_release(row: asyncpg.Record, version: str) -> Release:
    data = {k: row[k] for k in _RELEASE_COLUMNS.split(", ")}
    data["files"] = [ReleaseFile.model_validate(f) for f in data["files"]]
    return Release.model_validate(data | {"version": version})


class Models:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def get(self, org_id: UUID, model_id: UUID, conn: asyncpg.Connection | None = None) -> ModelVersion:
        row = await (conn or self.pool).fetchrow(
            f"SELECT {_VIEW_COLUMNS} FROM model_view WHERE id = $1 AND org_id = $2", model_id, org_id
        )
        if row is None:
            raise ModelNotFound(model_id)
        return to_version(row)

    async def lock(self, conn: asyncpg.Connection, org_id: UUID, model_id: UUID) -> asyncpg.Record:
        """The stored row, locked until the transaction ends: one lifecycle step at a time per version."""
        row = await conn.fetchrow("SELECT * FROM models WHERE id = $1 AND org_id = $2 FOR UPDATE", model_id, org_id)
        if row is None:
            raise ModelNotFound(model_id)
        return row

    async def lineage(self, org_id: UUID, model_id: UUID) -> Lineage:
        row = await self.pool.fetchrow("SELECT lineage FROM models WHERE id = $1 AND org_id = $2", model_id, org_id)
        if row is None:
            raise ModelNotFound(model_id)
        return Lineage.model_validate(row["lineage"])

    async def page(self, org_id: UUID, query: ModelQuery) -> tuple[list[ModelVersion], int]:
        async with self.pool.acquire() as conn:
            rows, total = await fetch_page(
                conn,
                table="model_view",
                columns=_VIEW_COLUMNS,
                equal={"org_id": org_id} | query.model_dump(include={"ai_module", "status", "job_id"}),
                order_by="created_at DESC, id",
                limit=query.limit,
                offset=query.offset,
            )
        return [to_version(r) for r in rows], total

    async def insert(self, conn: asyncpg.Connection, values: dict[str, Any]) -> bool:
        """False when this job's version exists already (a redelivered completion)."""
        columns = ", ".join(values)
        marks = ", ".join(f"${i}" for i in range(1, len(values) + 1))
        status = await conn.execute(
            f"INSERT INTO models ({columns}) VALUES ({marks}) ON CONFLICT (job_id) DO NOTHING", *values.values()
        )
        return bool(status.endswith(" 1"))

    async def versions_of(self, conn: asyncpg.Connection, org_id: UUID, ai_module: str) -> list[str]:
        rows = await conn.fetch("SELECT version FROM models WHERE org_id = $1 AND ai_module = $2", org_id, ai_module)
        return [r["version"] for r in rows]

    async def released_versions(self, conn: asyncpg.Connection, org_id: UUID, ai_module: str) -> list[str]:
        """The versions of the module that are in status `released` now (the plan's active models)."""
        rows = await conn.fetch(
            "SELECT version FROM models WHERE org_id = $1 AND ai_module = $2 AND status = $3",
            org_id,
            ai_module,
            ModelStatus.RELEASED.value,
        )
        return [r["version"] for r in rows]

    async def update(self, conn: asyncpg.Connection, model_id: UUID, changes: dict[str, Any]) -> None:
        sets = ", ".join(f"{column} = ${i}" for i, column in enumerate(changes, start=2))
        await conn.execute(f"UPDATE models SET {sets}, updated_at = now() WHERE id = $1", model_id, *changes.values())

    async def record(
        self,
        conn: asyncpg.Connection,
        model_id: UUID,
        actor: str,
        action: str,
        previous: ModelStatus | None,
        status: ModelStatus,
        reason: str,
    ) -> None:
        await conn.execute(
            "INSERT INTO model_history (model_id, actor, action, previous, status, reason) "
            "VALUES ($1, $2, $3, $4, $5, $6)",
            model_id,
            actor,
            action,
            previous.value if previous else None,
            status.value,
            reason,
        )


class Modules:
    async def lock(self, conn: asyncpg.Connection, org_id: UUID, ai_module: str) -> asyncpg.Record:
        """The module's row, created on first use and locked until the transaction ends: releases of one module
        take their counters one at a time, so counters strictly increase in commit order."""
        await conn.execute(
            "INSERT INTO modules (org_id, ai_module) VALUES ($1, $2) ON CONFLICT DO NOTHING", org_id, ai_module
        )
        row: asyncpg.Record = await conn.fetchrow(
            "SELECT * FROM modules WHERE org_id = $1 AND ai_module = $2 FOR UPDATE", org_id, ai_module
        )
        return row

    async def next_counter(self, conn: asyncpg.Connection, org_id: UUID, ai_module: str) -> int:
        counter: int = await conn.fetchval(
            "UPDATE modules SET release_counter = release_counter + 1 WHERE org_id = $1 AND ai_module = $2 "
            "RETURNING release_counter",
            org_id,
            ai_module,
        )
        return counter

    async def set_default(self, conn: asyncpg.Connection, org_id: UUID, ai_module: str, model_id: UUID) -> None:
        await conn.execute(
            "UPDATE modules SET default_model_id = $3 WHERE org_id = $1 AND ai_module = $2", org_id, ai_module, model_id
        )

    async def all(self, conn: asyncpg.Connection, org_id: UUID) -> list[asyncpg.Record]:
        rows: list[asyncpg.Record] = await conn.fetch(
            """SELECT m.ai_module, d.default_model_id, dm.version AS default_version, count(*) AS versions
               FROM models m
               LEFT JOIN modules d ON d.org_id = m.org_id AND d.ai_module = m.ai_module
               LEFT JOIN models dm ON dm.id = d.default_model_id
               WHERE m.org_id = $1
               GROUP BY m.ai_module, d.default_model_id, dm.version
               ORDER BY m.ai_module""",
            org_id,
        )
        return rows


class Releases:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def insert(self, conn: asyncpg.Connection, release: Release, platforms: list[str], hw: list[str]) -> None:
        await conn.execute(
            f"INSERT INTO releases ({_RELEASE_COLUMNS}, platforms, hardware) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
            release.id,
            release.org_id,
            release.ai_module,
            release.model_id,
            release.counter,
            release.kind,
            release.reason,
            [f.model_dump() for f in release.files],
            release.signature_key,
            release.key_id,
            release.issued_at,
            release.expires_at,
            release.released_by,
            platforms,
            hw,
        )

    async def latest_of_model(
        self, org_id: UUID, model_id: UUID, conn: asyncpg.Connection | None = None
    ) -> tuple[Release, list[str], list[str]]:
        row = await (conn or self.pool).fetchrow(
            f"""SELECT r.{_RELEASE_COLUMNS.replace(", ", ", r.")}, r.platforms, r.hardware, m.version
                FROM releases r JOIN models m ON m.id = r.model_id
                WHERE r.model_id = $1 AND r.org_id = $2 ORDER BY r.counter DESC LIMIT 1""",
            model_id,
            org_id,
        )
        if row is None:
            raise NotReleased(model_id)
        return to_release(row, row["version"]), list(row["platforms"]), list(row["hardware"])

    async def current_of_module(self, conn: asyncpg.Connection, org_id: UUID, ai_module: str) -> Release | None:
        row = await conn.fetchrow(
            f"""SELECT r.{_RELEASE_COLUMNS.replace(", ", ", r.")}, m.version
                FROM releases r JOIN models m ON m.id = r.model_id
                WHERE r.org_id = $1 AND r.ai_module = $2 ORDER BY r.counter DESC LIMIT 1""",
            org_id,
            ai_module,
        )
        return None if row is None else to_release(row, row["version"])


class OrgSettings:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def get(self, org_id: UUID, conn: asyncpg.Connection | None = None) -> RegistrySettings:
        row = await (conn or self.pool).fetchrow("SELECT four_eyes FROM org_settings WHERE org_id = $1", org_id)
        return RegistrySettings() if row is None else RegistrySettings(four_eyes=row["four_eyes"])

    async def put(self, conn: asyncpg.Connection, org_id: UUID, settings: RegistrySettings) -> None:
        await conn.execute(
            "INSERT INTO org_settings (org_id, four_eyes) VALUES ($1, $2) "
            "ON CONFLICT (org_id) DO UPDATE SET four_eyes = excluded.four_eyes",
            org_id,
            settings.four_eyes,
        )


def dumps(value: object) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
