"""Distribution's tables: enrollment tokens, devices, deployments and each device's part in them."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import asyncpg

from modelyard.contracts.api.devices import (
    ActiveModel,
    Deployment,
    DeploymentDevice,
    DeploymentQuery,
    Device,
    DeviceQuery,
)
from modelyard.distribution.errors import DeploymentNotFound, DeviceNotFound
from modelyard.runtime.db import fetch_page

_DEVICE = (
    "id, org_id, name, hardware_id, platform, hardware, labels, enrolled_at, last_heartbeat_at, agent_version, "
    "health, active"
)
_DEPLOYMENT = (
    "id, org_id, model_id, ai_module, version, counter, status, current_wave, waves, failure_threshold, failures, "
    "created_by, created_at, updated_at"
)


def to_device(row: asyncpg.Record) -> Device:
    data = {k: row[k] for k in _DEVICE.split(", ")}
    data["active"] = {m: ActiveModel.model_validate(a) for m, a in (data["active"] or {}).items()}
    return Device.model_validate(data)


class Devices:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def get(self, org_id: UUID, device_id: UUID) -> Device:
        row = await self.pool.fetchrow(
            f"SELECT {_DEVICE} FROM devices WHERE id = $1 AND org_id = $2", device_id, org_id
        )
        if row is None:
            raise DeviceNotFound(device_id)
        return to_device(row)

    async def page(self, org_id: UUID, query: DeviceQuery) -> tuple[list[Device], int]:
        labels: dict[str, str] = {}
        if query.label:
            key, _, value = query.label.partition("=")
            labels = {key: value}
        total = await self.pool.fetchval(
            "SELECT count(*) FROM devices WHERE org_id = $1 AND labels @> $2", org_id, labels
        )
        rows = await self.pool.fetch(
            f"SELECT {_DEVICE} FROM devices WHERE org_id = $1 AND labels @> $2 ORDER BY name, id LIMIT $3 OFFSET $4",
            org_id,
            labels,
            query.limit,
            query.offset,
        )
        return [to_device(r) for r in rows], int(total)

    async def targets(
        self, conn: asyncpg.Connection, org_id: UUID, *, device: UUID | None, labels: dict[str, str] | None
    ) -> list[asyncpg.Record]:
        """The devices a target names, in a stable order (enrollment, then id): the canary is the oldest."""
        rows: list[asyncpg.Record] = await conn.fetch(
            """SELECT id, name FROM devices
               WHERE org_id = $1 AND ($2::uuid IS NULL OR id = $2) AND labels @> $3
               ORDER BY enrolled_at, id""",
            org_id,
            device,
            labels or {},
        )
        return rows

    async def heartbeat(self, device_id: UUID, agent_version: str, active: dict[str, Any], health: str) -> None:
        await self.pool.execute(
            "UPDATE devices SET last_heartbeat_at = now(), agent_version = $2, active = $3, health = $4 WHERE id = $1",
            device_id,
            agent_version,
            active,
            health,
        )


class Deployments:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def get(self, org_id: UUID, deployment_id: UUID, conn: asyncpg.Connection | None = None) -> Deployment:
        db = conn or self.pool
        row = await db.fetchrow(
            f"SELECT {_DEPLOYMENT} FROM deployments WHERE id = $1 AND org_id = $2", deployment_id, org_id
        )
        if row is None:
            raise DeploymentNotFound(deployment_id)
        devices = await db.fetch(
            """SELECT dd.device_id AS device, d.name, dd.wave, dd.status, dd.error, dd.attempts, dd.updated_at
               FROM deployment_devices dd JOIN devices d ON d.id = dd.device_id
               WHERE dd.deployment_id = $1 ORDER BY dd.wave, d.enrolled_at, d.id""",
            deployment_id,
        )
        data = {k: row[k] for k in _DEPLOYMENT.split(", ")}
        return Deployment.model_validate(
            data | {"devices": [DeploymentDevice.model_validate(dict(d)) for d in devices]}
        )

    async def page(self, org_id: UUID, query: DeploymentQuery) -> tuple[list[Deployment], int]:
        async with self.pool.acquire() as conn:
            rows, total = await fetch_page(
                conn,
                table="deployments",
                columns="id",
                equal={"org_id": org_id} | query.model_dump(include={"model_id", "status"}),
                order_by="created_at DESC, id",
                limit=query.limit,
                offset=query.offset,
            )
            return [await self.get(org_id, r["id"], conn) for r in rows], total

    async def lock(self, conn: asyncpg.Connection, deployment_id: UUID) -> asyncpg.Record | None:
        row: asyncpg.Record | None = await conn.fetchrow(
            "SELECT * FROM deployments WHERE id = $1 FOR UPDATE", deployment_id
        )
        return row

    async def update(self, conn: asyncpg.Connection, deployment_id: UUID, changes: dict[str, Any]) -> None:
        sets = ", ".join(f"{column} = ${i}" for i, column in enumerate(changes, start=2))
        await conn.execute(
            f"UPDATE deployments SET {sets}, updated_at = now() WHERE id = $1", deployment_id, *changes.values()
        )

    async def set_device(
        self, conn: asyncpg.Connection, deployment_id: UUID, device_id: UUID, changes: dict[str, Any]
    ) -> None:
        sets = ", ".join(f"{column} = ${i}" for i, column in enumerate(changes, start=3))
        await conn.execute(
            f"UPDATE deployment_devices SET {sets}, updated_at = now() WHERE deployment_id = $1 AND device_id = $2",
            deployment_id,
            device_id,
            *changes.values(),
        )

    async def wave_devices(self, conn: asyncpg.Connection, deployment_id: UUID, wave: int) -> list[asyncpg.Record]:
        rows: list[asyncpg.Record] = await conn.fetch(
            "SELECT * FROM deployment_devices WHERE deployment_id = $1 AND wave = $2", deployment_id, wave
        )
        return rows
