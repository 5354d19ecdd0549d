"""The job state machine: pending → queued → running → completed | failed | cancelled.

Every change goes through here, inside the caller's transaction, and emits JobStatusChanged (live views) through
the outbox. Reports from trainers carry their attempt; a report from an attempt other than the job's current one
is stale and changes nothing (`fenced`).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from modelyard.contracts.api.training import JobStatus, Pool, Priority
from modelyard.contracts.envelope import Event
from modelyard.contracts.events import (
    EpochReported,
    JobDispatched,
    JobQueued,
    JobStatusChanged,
    JobSucceeded,
    TrainingCompleted,
)
from modelyard.runtime import outbox
from modelyard.scheduler.repository import JobRepository, JobRow

SCHEDULER = "service:scheduler"


def succeeded(job: JobRow, report: TrainingCompleted) -> JobSucceeded:
    """The fenced completion, with the job's own facts, for the registry."""
    return report.caused(
        JobSucceeded,
        org_id=job["org_id"],
        actor=SCHEDULER,
        job_id=job["id"],
        attempt=report.attempt,
        name=job["name"],
        ai_module=job["ai_module"],
        framework=job["framework"],
        task=job["task"],
        submitted_by=job["created_by"],
        model_version=job["model_version"],
        artifacts=report.artifacts,
        metrics=report.metrics,
        best_epoch=report.best_epoch,
        config=report.config,
        dataset_id=report.dataset_id,
        dataset_version=report.dataset_version,
        manifest_sha256=report.manifest_sha256,
        trainer_id=report.trainer_id or job["trainer_id"],
        trainer_version=report.trainer_version,
        framework_version=report.framework_version,
    )


def status_event(job: JobRow, correlation_id: str, cause: Event | None = None) -> JobStatusChanged:
    total = job["total_epochs"] or int(job["config"].get("epochs", 0))
    done = job["current_epoch"]
    progress = 100.0 if job["status"] == "completed" else (round(100.0 * done / total, 1) if total else 0.0)
    return JobStatusChanged(
        correlation_id=correlation_id,
        causation_id=str(cause.event_id) if cause else None,
        org_id=job["org_id"],
        actor=SCHEDULER,
        job_id=job["id"],
        status=JobStatus(job["status"]),
        attempt=job["attempt"],
        current_epoch=done,
        total_epochs=total,
        progress_percent=progress,
        metrics=job["metrics"],
        error_message=job["error_message"],
    )


async def change(
    conn: asyncpg.Connection,
    jobs: JobRepository,
    job: JobRow,
    changes: dict[str, Any],
    correlation_id: str,
    *extra: Event,
    cause: Event | None = None,
) -> JobRow:
    updated = await jobs.update(conn, job["id"], changes)
    await outbox.enqueue(conn, *extra, status_event(updated, correlation_id, cause))
    return updated


async def dispatch(conn: asyncpg.Connection, jobs: JobRepository, job: JobRow, correlation_id: str) -> JobRow:
    """Queue the job and put one dispatch message for it on the work queue of its pool and priority."""
    number = job["dispatches"] + 1
    pool, priority = Pool(job["pool"]), Priority(job["priority"])
    queued = JobQueued(
        correlation_id=correlation_id,
        org_id=job["org_id"],
        actor=SCHEDULER,
        job_id=job["id"],
        pool=pool,
        priority=priority,
        retry=job["failures"],
    )
    message = JobDispatched(
        correlation_id=correlation_id,
        org_id=job["org_id"],
        actor=SCHEDULER,
        job_id=job["id"],
        pool=pool,
        priority=priority,
        dispatch=number,
    )
    return await change(
        conn,
        jobs,
        job,
        {"status": JobStatus.QUEUED.value, "dispatches": number, "retry_at": None, "queued_at": datetime.now(UTC)},
        correlation_id,
        queued,
        message,
    )


def fenced(job: JobRow, attempt: int) -> bool:
    """True when a report comes from an attempt that is no longer the job's (or the job is over)."""
    return attempt != job["attempt"] or JobStatus(job["status"]).final


def in_resumed_history(job: JobRow, report: EpochReported) -> bool:
    """An epoch reported by an earlier attempt, no later than the checkpoint the current attempt resumed from.
    The takeover can overtake that report (epochs and checkpoints travel on different streams); it still belongs
    to the job's history, and the current attempt will not train that epoch again."""
    return bool(report.attempt < job["attempt"] and report.epoch <= job["resume_epoch"])


def retry_delay(backoff_s: tuple[float, ...], failures: int) -> timedelta:
    return timedelta(seconds=backoff_s[min(failures - 1, len(backoff_s) - 1)] if backoff_s else 0)
