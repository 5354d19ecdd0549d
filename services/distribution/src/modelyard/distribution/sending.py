"""Sending a wave: each device of it gets a DeployRequested on its own subject (through the outbox, in the caller's
transaction), with download URLs presigned now, so a retry after an expiry gets fresh ones."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

import asyncpg

from modelyard.contracts.api.devices import DeviceDeployStatus
from modelyard.contracts.events import AuditRecorded, DeployRequested
from modelyard.contracts.events.edge import DeployFile
from modelyard.distribution.deps import Deps
from modelyard.distribution.settings import SERVICE
from modelyard.runtime import outbox


async def send(
    deps: Deps,
    conn: asyncpg.Connection,
    deployment: asyncpg.Record,
    device_id: UUID,
    correlation_id: str,
    *,
    actor: str = SERVICE,
) -> None:
    """One device's DeployRequested and, in the same transaction, its audit record `deployment.sent` (device,
    attempt, wave) by `actor`: the distribution service unless the caller names who set the send going (the
    deployment's creator is already on `deployment.created`)."""
    ttl = timedelta(seconds=deps.settings.presign_ttl_s)
    files = [
        DeployFile(
            name=f["name"], sha256=f["sha256"], size=f["size"], url=await deps.store.presigned_get(f["key"], ttl)
        )
        for f in deployment["release_files"]
    ]
    sent = await conn.fetchrow(
        """UPDATE deployment_devices SET status = $3, attempts = attempts + 1, retry_at = NULL, error = NULL,
                  updated_at = now()
           WHERE deployment_id = $1 AND device_id = $2 RETURNING attempts, wave""",
        deployment["id"],
        device_id,
        DeviceDeployStatus.PENDING.value,
    )
    assert sent is not None, f"device {device_id} is not in deployment {deployment['id']}"
    attempts: int = sent["attempts"]
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
        AuditRecorded(
            correlation_id=correlation_id,
            org_id=deployment["org_id"],
            actor=actor,
            service="distribution",
            action="deployment.sent",
            resource_type="deployment",
            resource_id=str(deployment["id"]),
            detail={
                "device_id": str(device_id),
                "attempt": attempts,
                "wave": sent["wave"],
                "version": deployment["version"],
            },
        ),
    )


async def send_wave(
    deps: Deps, conn: asyncpg.Connection, deployment: asyncpg.Record, wave: int, cid: str, *, actor: str = SERVICE
) -> None:
    for row in await deps.deployments.wave_devices(conn, deployment["id"], wave):
        await send(deps, conn, deployment, row["device_id"], cid, actor=actor)
