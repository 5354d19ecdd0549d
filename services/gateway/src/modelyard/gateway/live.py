"""Live training status for one job, as the WebSocket and SSE routes send it (seed 003's protocol):
`connected` first, then `training_status` for the history (one per recorded epoch), the current state, and every
change until the job is over.

It subscribes before it reads the history, so nothing published in between is lost; epochs come straight from the
trainer's telemetry (no hop through the scheduler), status changes from the scheduler's job events.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from nats.aio.msg import Msg
from pydantic import ValidationError

from modelyard.contracts import envelope, subjects
from modelyard.contracts.api.training import EpochMetrics, Job, JobDetail, JobRef, JobStatus, MetricsList, MetricsQuery
from modelyard.contracts.events import EpochReported, JobStatusChanged
from modelyard.gateway import context
from modelyard.runtime.problems import invalid


def _now() -> str:
    return datetime.now(UTC).isoformat()


def status_message(
    status: JobStatus,
    epoch: int,
    total: int,
    metrics: dict[str, float],
    error: str | None,
    at: str | None = None,
) -> dict[str, Any]:
    return {
        "event": "training_status",
        "status": status.value,
        "current_epoch": epoch,
        "total_epochs": total,
        "progress_percent": 100.0
        if status is JobStatus.COMPLETED
        else round(100.0 * epoch / total, 1)
        if total
        else 0.0,
        "metrics": metrics,
        "error_message": error,
        "timestamp": at or _now(),
    }


def _from_job(job: Job) -> dict[str, Any]:
    return status_message(job.status, job.current_epoch, job.total_epochs, job.metrics, job.error_message)


async def job_updates(request: web.Request, job_id: str) -> AsyncGenerator[dict[str, Any], None]:
    rpc, principal, cid = request.app[context.RPC], context.principal(request), context.correlation_id(request)
    try:
        ref = JobRef.model_validate({"job_id": job_id})
    except ValidationError as exc:  # a malformed id is the caller's mistake: 422, not a crash
        raise invalid(exc) from None
    nc = request.app[context.RESOURCES].nc
    inbox: asyncio.Queue[Msg] = asyncio.Queue()

    async def enqueue(msg: Msg) -> None:
        await inbox.put(msg)

    subs = [
        await nc.subscribe(subjects.job_status(ref.job_id), cb=enqueue),
        await nc.subscribe(subjects.telemetry_metrics(ref.job_id), cb=enqueue),
    ]
    try:
        detail = await rpc.call(subjects.SVC_JOB_GET, principal, ref, cid, JobDetail)  # 404 for other orgs
        history = await rpc.call(subjects.SVC_JOB_METRICS, principal, MetricsQuery(job_id=ref.job_id), cid, MetricsList)
        job = detail.job
        yield {"event": "connected", "job_id": str(job.id), "status": job.status.value, "timestamp": _now()}
        seen = 0
        for point in history.metrics:
            yield _history(job, point)
            seen = max(seen, point.epoch)
        yield _from_job(job)
        status, total, error = job.status, job.total_epochs, job.error_message
        sent = (status, job.current_epoch, total)
        while not status.final:
            event = envelope.decode((await inbox.get()).data)
            if isinstance(event, EpochReported):  # straight from the trainer: the fastest news of an epoch
                if event.epoch <= seen:
                    continue
                seen, total = event.epoch, event.epochs
                metrics, epoch = event.metrics, event.epoch
            elif isinstance(event, JobStatusChanged):
                status, total, error = event.status, event.total_epochs or total, event.error_message
                seen = max(seen, event.current_epoch)
                metrics, epoch = event.metrics, event.current_epoch
            else:
                continue
            if (status, epoch, total) == sent and not status.final:
                continue  # the same news twice (the scheduler's echo of an epoch the trainer already told)
            sent = (status, epoch, total)
            yield status_message(status, epoch, total, metrics, error)
    finally:
        for sub in subs:
            await sub.unsubscribe()


def _history(job: Job, point: EpochMetrics) -> dict[str, Any]:
    at = point.at.isoformat() if point.at else None
    running = JobStatus.RUNNING if point.epoch < job.total_epochs or not job.status.final else job.status
    return status_message(running, point.epoch, job.total_epochs, point.metrics, None, at)
