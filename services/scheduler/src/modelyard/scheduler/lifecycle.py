"""The job state machine: pending → queued → running → completed | failed | cancelled.

Every change goes through here, inside the caller's transaction, and emits JobStatusChanged (live views) and an
audit record (`job.<status>`, by whoever caused it) through the outbox. Reports from trainers carry their attempt;
a report from an attempt other than the job's current one is stale and changes nothing (`fenced`).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from modelyard.contracts.api.training import JobStatus, Pool, Priority
from modelyard.contracts.envelope import Event
from modelyard.contracts.events import (
    AuditRecorded,
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


def status_audit(
    before: JobRow,
    after: JobRow,
    correlation_id: str,
    cause: Event | None = None,
    actor: str | None = None,
    action: str | None = None,
) -> AuditRecorded:
    """The audit record of one change of the job: `job.<status>` (or `action`) by `actor`, else by the cause's
    actor (the trainer whose report it applies), else by the scheduler itself."""
    status = JobStatus(after["status"])
    detail: dict[str, Any] = {"previous": before["status"], "attempt": after["attempt"]}
    if status is JobStatus.RUNNING:
        detail["trainer_id"] = after["trainer_id"]
    if after["dispatches"] != before["dispatches"]:
        detail |= {"dispatch": after["dispatches"], "pool": after["pool"], "priority": after["priority"]}
    if status is JobStatus.QUEUED and after["failures"]:
        detail["failures"] = after["failures"]
    if after["retry_at"] is not None:
        detail["retry_at"] = after["retry_at"].isoformat()
    if status in (JobStatus.QUEUED, JobStatus.FAILED) and after["error_message"]:
        detail["error"] = after["error_message"]
    return AuditRecorded(
        correlation_id=correlation_id,
        causation_id=str(cause.event_id) if cause else None,
        org_id=after["org_id"],
        actor=actor or (cause.actor if cause else SCHEDULER),
        service="scheduler",
        action=action or f"job.{status.value}",
        resource_type="job",
        resource_id=str(after["id"]),
        detail=detail,
    )


def _news(before: JobRow, after: JobRow) -> bool:
    """A fact worth an audit record: a new status, a new attempt (a takeover) or a new dispatch (a retry)."""
    return any(before[name] != after[name] for name in ("status", "attempt", "dispatches"))


async def change(
    conn: asyncpg.Connection,
    jobs: JobRepository,
    job: JobRow,
    changes: dict[str, Any],
    correlation_id: str,
    *extra: Event,
    cause: Event | None = None,
    actor: str | None = None,
    audited: bool = True,
    action: str | None = None,
) -> JobRow:
    """Apply `changes` and emit JobStatusChanged and, when the status, attempt or dispatch changed, its audit
    record (see `status_audit`), all in the caller's transaction. `audited=False` where the caller records the fact
    itself (a submission is audited as `job.submitted`, not also as its first dispatch)."""
    updated = await jobs.update(conn, job["id"], changes)
    events = [*extra, status_event(updated, correlation_id, cause)]
    if audited and _news(job, updated):
        events.append(status_audit(job, updated, correlation_id, cause, actor, action))
    await outbox.enqueue(conn, *events)
    return updated


async def dispatch(
    conn: asyncpg.Connection, jobs: JobRepository, job: JobRow, correlation_id: str, *, audited: bool = True
) -> JobRow:
    """Queue the job and put one dispatch message for it on the work queue of its pool and priority (audited as
    `job.dispatched`, by the scheduler)."""
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
        audited=audited,
        action="job.dispatched",
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
