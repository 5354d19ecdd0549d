"""Sending a wave: each device of it gets a DeployRequested on its own subject (through the outbox, in the caller's
transaction), with download URLs presigned now, so a retry after an expiry gets fresh ones."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

import asyncpg

from modelyard.contracts.api.devices import DeviceDeployStatus
from modelyard.contracts.events import DeployRequested
from modelyard.contracts.events.edge import DeployFile
from modelyard.distribution.deps import Deps
from modelyard.distribution.settings import SERVICE
from modelyard.runtime import outbox


async def send(
    deps: Deps, conn: asyncpg.Connection, deployment: asyncpg.Record, device_id: UUID, correlation_id: str
) -> None:
    ttl = timedelta(seconds=deps.settings.presign_ttl_s)
    files = [
        DeployFile(
            name=f["name"], sha256=f["sha256"], size=f["size"], url=await deps.store.presigned_get(f["key"], ttl)
        )
        for f in deployment["release_files"]
    ]
    attempts = await conn.fetchval(
        """UPDATE deployment_devices SET status = $3, attempts = attempts + 1, retry_at = NULL, error = NULL,
                  updated_at = now()
           WHERE deployment_id = $1 AND device_id = $2 RETURNING attempts""",
        deployment["id"],
        device_id,
        DeviceDeployStatus.PENDING.value,
    )
    await outbox.enqueue(
        conn,
        DeployRequested(
            correlation_id=correlation_id,
            org_id=deployment["org_id"],
            actor=SERVICE,
            deployment_id=deployment["id"],
            device_id=device_id,
            ai_module=deployment["ai_module"],
            model_id=deployment["model_id"],
            version=deployment["version"],
            counter=deployment["counter"],
            files=files,
            signature_url=await deps.store.presigned_get(deployment["signature_key"], ttl),
            urls_expire_at=datetime.now(UTC) + ttl,
            attempt=attempts,
        ),
    )


async def send_wave(deps: Deps, conn: asyncpg.Connection, deployment: asyncpg.Record, wave: int, cid: str) -> None:
    for row in await deps.deployments.wave_devices(conn, deployment["id"], wave):
        await send(deps, conn, deployment, row["device_id"], cid)
