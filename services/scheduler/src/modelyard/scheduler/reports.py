"""The trainers' reports, applied to jobs. Each report carries the attempt that sent it; one from any other
attempt than the job's current one is stale and ignored, so a trainer that lost its lease can never overwrite the
work of the one that took over."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from faststream.nats import NatsBroker

from modelyard.contracts import streams, subjects
from modelyard.contracts.api.training import JobStatus
from modelyard.contracts.envelope import Event
from modelyard.contracts.events import (
    CheckpointSaved,
    EpochReported,
    LogsReported,
    TrainingCancelled,
    TrainingCompleted,
    TrainingFailed,
    TrainingStarted,
)
from modelyard.contracts.streams import ConsumerSpec
from modelyard.runtime.consumer import event_consumer
from modelyard.runtime.logging import get_logger
from modelyard.scheduler import lifecycle
from modelyard.scheduler.deps import Deps
from modelyard.scheduler.errors import JobNotFound

log = get_logger(__name__)

# Applying a report takes milliseconds: a short AckWait bounds how late a delivery that went astray comes back.
REPORTS = ConsumerSpec(streams.JOBS.name, "scheduler-reports", subjects.TRAINING_REPORTS, ack_wait_s=5.0)
METRICS = ConsumerSpec(streams.TELEMETRY.name, "scheduler-metrics", "telemetry.metrics.>", ack_wait_s=5.0)
LOGS = ConsumerSpec(streams.TELEMETRY.name, "scheduler-logs", "telemetry.logs.>", ack_wait_s=5.0)

Report = (
    TrainingStarted
    | EpochReported
    | LogsReported
    | CheckpointSaved
    | TrainingCompleted
    | TrainingFailed
    | TrainingCancelled
)


class Reports:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    def register(self, broker: NatsBroker) -> None:
        for spec in (REPORTS, METRICS, LOGS):

            @event_consumer(broker, spec)
            async def handle(event: Event) -> None:
                if isinstance(event, Report):
                    await self.apply(event)

    async def apply(self, report: Report) -> None:
        deps, jobs = self.deps, self.deps.jobs
        async with deps.pool.acquire() as conn, conn.transaction():
            try:
                job = await jobs.row(None, report.job_id, conn, lock=True)
            except JobNotFound:
                return  # deleted meanwhile
            if isinstance(report, EpochReported) and lifecycle.in_resumed_history(job, report):
                # an earlier attempt's epoch that the current attempt resumed from: history, not news
                await jobs.add_metrics(
                    conn, job["id"], report.attempt, report.epoch, report.metrics, report.epoch_time_s
                )
                return
            if lifecycle.fenced(job, report.attempt):
                deps.stale_reports += 1
                log.info("report.stale", job_id=str(report.job_id), attempt=report.attempt, current=job["attempt"])
                return
            changes: dict[str, Any] = {}
            extra: list[Event] = []
            cid = report.correlation_id
            match report:
                case TrainingStarted():
                    changes = {"status": JobStatus.RUNNING.value, "total_epochs": report.total_epochs}
                case EpochReported():
                    if not await jobs.add_metrics(
                        conn, job["id"], report.attempt, report.epoch, report.metrics, report.epoch_time_s
                    ):
                        return
                    fitness = report.metrics.get("fitness")
                    changes = {
                        "current_epoch": max(job["current_epoch"], report.epoch),
                        "metrics": report.metrics,
                        "total_epochs": report.epochs,
                    }
                    if fitness is not None and (job["best_fitness"] is None or fitness > job["best_fitness"]):
                        changes |= {"best_epoch": report.epoch, "best_fitness": fitness}
                case LogsReported():
                    await jobs.add_logs(conn, job["id"], report.attempt, report.lines)
                    return
                case CheckpointSaved():
                    await jobs.put_artifact(conn, job["id"], report.attempt, report.artifact)
                    return
                case TrainingCompleted():
                    for artifact in report.artifacts:
                        await jobs.put_artifact(conn, job["id"], report.attempt, artifact)
                    changes = {
                        "status": JobStatus.COMPLETED.value,
                        "finished_at": datetime.now(UTC),
                        "best_epoch": report.best_epoch or job["best_epoch"],
                        "metrics": report.metrics or job["metrics"],
                    }
                    extra.append(lifecycle.succeeded(job, report))
                case TrainingCancelled():
                    changes = {"status": JobStatus.CANCELLED.value, "finished_at": datetime.now(UTC)}
                case TrainingFailed():
                    failures = job["failures"] + 1
                    if report.retryable and failures < deps.settings.max_attempts and not job["cancel_requested"]:
                        retry_at = datetime.now(UTC) + lifecycle.retry_delay(deps.settings.retry_backoff_s, failures)
                        changes = {
                            "status": JobStatus.QUEUED.value,
                            "failures": failures,
                            "retry_at": retry_at,
                            "error_message": report.error,
                        }
                    else:
                        changes = {
                            "status": JobStatus.FAILED.value,
                            "failures": failures,
                            "error_message": report.error,
                            "finished_at": datetime.now(UTC),
                        }
            await lifecycle.change(conn, jobs, job, changes, cid, *extra, cause=report)


async def dispatch_due_retries(deps: Deps) -> int:
    """Queue again the jobs whose retry time has come; returns how many."""
    count = 0
    rows = await deps.pool.fetch(
        "SELECT id FROM jobs WHERE status = 'queued' AND retry_at IS NOT NULL AND retry_at <= now() LIMIT 100"
    )
    for row in rows:
        async with deps.pool.acquire() as conn, conn.transaction():
            job = await deps.jobs.row(None, row["id"], conn, lock=True)
            if job["retry_at"] is None or job.status is not JobStatus.QUEUED:
                continue
            await lifecycle.dispatch(conn, deps.jobs, job, f"retry-{job['id']}-{job['failures']}")
            count += 1
    return count
