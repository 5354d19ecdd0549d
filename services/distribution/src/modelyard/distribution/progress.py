"""What devices report: each status step moves its row (pending → downloading → installing → completed | failed);
a retryable failure is sent again after a backoff with fresh URLs; then the rollout decides: wait, start the next
wave, finish, or abort (the rest of the devices skipped). Heartbeats keep the device list current."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from uuid import UUID

import asyncpg
from faststream.nats import NatsBroker

from modelyard.contracts import streams, subjects
from modelyard.contracts.api.devices import DeploymentStatus, DeviceDeployStatus
from modelyard.contracts.envelope import Event
from modelyard.contracts.events import AuditRecorded, DeviceHeartbeat, DeviceStatusReported
from modelyard.contracts.streams import ConsumerSpec
from modelyard.distribution import rollout, sending
from modelyard.distribution.deps import Deps
from modelyard.distribution.settings import SERVICE
from modelyard.runtime import outbox
from modelyard.runtime.audit import audit_event
from modelyard.runtime.consumer import event_consumer
from modelyard.runtime.logging import get_logger

log = get_logger(__name__)
STATUS = ConsumerSpec(streams.EDGE.name, "distribution-status", subjects.EDGE_STATUS_ALL, ack_wait_s=10.0)
HEARTBEATS = ConsumerSpec(streams.EDGE.name, "distribution-heartbeats", subjects.EDGE_HEARTBEAT_ALL, ack_wait_s=10.0)
ORDER = [
    DeviceDeployStatus.WAITING,
    DeviceDeployStatus.PENDING,
    DeviceDeployStatus.DOWNLOADING,
    DeviceDeployStatus.INSTALLING,
]


def register(broker: NatsBroker, deps: Deps) -> None:
    @event_consumer(broker, STATUS)
    async def on_status(event: Event) -> None:
        if isinstance(event, DeviceStatusReported):
            await apply_status(deps, event)

    @event_consumer(broker, HEARTBEATS)
    async def on_heartbeat(event: Event) -> None:
        if isinstance(event, DeviceHeartbeat):
            active = {m: a.model_dump() for m, a in event.active.items()}
            await deps.devices.heartbeat(event.device_id, event.agent_version, active, event.health)


def _retry_delay(deps: Deps, attempts: int) -> float:
    backoff = deps.settings.retry_backoff_s
    return backoff[min(attempts - 1, len(backoff) - 1)]


async def apply_status(deps: Deps, report: DeviceStatusReported) -> None:
    async with deps.pool.acquire() as conn, conn.transaction():
        deployment = await deps.deployments.lock(conn, report.deployment_id)
        if deployment is None or deployment["org_id"] != report.org_id:
            return
        row = await conn.fetchrow(
            "SELECT * FROM deployment_devices WHERE deployment_id = $1 AND device_id = $2",
            report.deployment_id,
            report.device_id,
        )
        if row is None or DeviceDeployStatus(row["status"]).final:
            return  # a late or repeated report of a finished device
        current = DeviceDeployStatus(row["status"])
        status = report.status
        if status in ORDER and ORDER.index(status) <= ORDER.index(current):
            return  # out of order: a step already passed
        changes: dict[str, object] = {"status": status.value, "error": report.error}
        retry = (
            status is DeviceDeployStatus.FAILED
            and report.reason in rollout.RETRYABLE
            and row["attempts"] < deps.settings.max_attempts
            and deployment["status"] in (DeploymentStatus.ROLLING.value, DeploymentStatus.PAUSED.value)
        )
        if retry:
            delay = _retry_delay(deps, row["attempts"])
            changes = {
                "status": DeviceDeployStatus.PENDING.value,
                "error": f"{report.error} (retrying in {delay:g}s)",
                "retry_at": datetime.now(UTC) + timedelta(seconds=delay),
            }
        await deps.deployments.set_device(conn, report.deployment_id, report.device_id, changes)
        if status is DeviceDeployStatus.FAILED and not retry:
            await deps.deployments.update(conn, report.deployment_id, {"failures": deployment["failures"] + 1})
        if status.final:
            await outbox.enqueue(
                conn,
                audit_event(
                    report,
                    service="distribution",
                    action=f"deployment.device_{status.value}" if not retry else "deployment.device_retry",
                    resource_type="deployment",
                    resource_id=report.deployment_id,
                    device_id=str(report.device_id),
                    error=report.error,
                    reason=report.reason,
                ),
            )
        await advance(deps, conn, report.deployment_id, report.correlation_id)


async def advance(deps: Deps, conn: asyncpg.Connection, deployment_id: UUID, cid: str) -> None:
    """Apply the rollout's decision; the caller holds the deployment's row lock."""
    d = await conn.fetchrow("SELECT * FROM deployments WHERE id = $1", deployment_id)
    if d is None or d["status"] not in (DeploymentStatus.ROLLING.value, DeploymentStatus.PAUSED.value):
        return
    wave = await deps.deployments.wave_devices(conn, deployment_id, d["current_wave"])
    decision = rollout.decide(
        rollout.Progress(
            current_wave=d["current_wave"],
            waves=d["waves"],
            failures=d["failures"],
            failure_threshold=d["failure_threshold"],
            paused=d["status"] == DeploymentStatus.PAUSED.value,
            current_wave_statuses=tuple(DeviceDeployStatus(r["status"]) for r in wave),
        )
    )
    match decision:
        case rollout.Next.NEXT_WAVE:
            await deps.deployments.update(conn, deployment_id, {"current_wave": d["current_wave"] + 1})
            await sending.send_wave(deps, conn, d, d["current_wave"] + 1, cid)
        case rollout.Next.ABORT:
            await conn.execute(
                "UPDATE deployment_devices SET status = $2, updated_at = now() "
                "WHERE deployment_id = $1 AND status = $3",
                deployment_id,
                DeviceDeployStatus.SKIPPED.value,
                DeviceDeployStatus.WAITING.value,
            )
            await _finish(deps, conn, d, DeploymentStatus.ABORTED, cid)
        case rollout.Next.COMPLETE:
            await _finish(deps, conn, d, DeploymentStatus.COMPLETED, cid)
        case rollout.Next.FAIL:
            await _finish(deps, conn, d, DeploymentStatus.FAILED, cid)
        case rollout.Next.WAIT:
            pass


async def _finish(deps: Deps, conn: asyncpg.Connection, d: asyncpg.Record, status: DeploymentStatus, cid: str) -> None:
    await deps.deployments.update(conn, d["id"], {"status": status.value})
    log.info("deployment.finished", deployment_id=str(d["id"]), status=status.value, failures=d["failures"])
    await outbox.enqueue(
        conn,
        AuditRecorded(
            correlation_id=cid,
            org_id=d["org_id"],
            actor=SERVICE,
            service="distribution",
            action=f"deployment.{status.value}",
            resource_type="deployment",
            resource_id=str(d["id"]),
            detail={"failures": d["failures"], "version": d["version"], "counter": d["counter"]},
        ),
    )


async def send_due_retries(deps: Deps) -> int:
    # only rolling deployments: a paused one keeps its due retries, which must not fill the batch and starve others
    rows = await deps.pool.fetch(
        """SELECT dd.deployment_id, dd.device_id
           FROM deployment_devices dd JOIN deployments d ON d.id = dd.deployment_id
           WHERE dd.retry_at IS NOT NULL AND dd.retry_at <= now() AND d.status = $1 ORDER BY dd.retry_at LIMIT 100""",
        DeploymentStatus.ROLLING.value,
    )
    for row in rows:
        async with deps.pool.acquire() as conn, conn.transaction():
            d = await deps.deployments.lock(conn, row["deployment_id"])
            if d is None or d["status"] != DeploymentStatus.ROLLING.value:
                continue
            await sending.send(deps, conn, d, row["device_id"], f"retry-{row['deployment_id']}")
    return len(rows)


async def retry_loop(deps: Deps) -> None:
    while True:
        try:
            await send_due_retries(deps)
        except Exception as exc:  # noqa: BLE001 - the next round tries again
            log.warning("retries.failed", error=repr(exc))
        await asyncio.sleep(deps.settings.retry_poll_s)
