"""Training: the scheduler's job lifecycle (JOBS), dispatch messages (DISPATCH), the trainers' reports (JOBS,
tagged with the attempt that is their fencing token) and per-epoch telemetry (TELEMETRY)."""

from __future__ import annotations

from typing import Any, ClassVar
from uuid import UUID

from modelyard.contracts import subjects
from modelyard.contracts.api.training import Artifact, JobStatus, Pool, Priority
from modelyard.contracts.envelope import Event


class JobQueued(Event):
    subject: ClassVar[str] = subjects.JOB_QUEUED
    job_id: UUID
    pool: Pool
    priority: Priority
    retry: int = 0


class JobDispatched(Event):
    """One message per attempt on the DISPATCH work queue; exactly one trainer of the pool takes it."""

    subject: ClassVar[str] = subjects.DISPATCH_TEMPLATE  # dispatch.<pool>.<priority>
    job_id: UUID
    pool: Pool
    priority: Priority
    dispatch: int


class JobStatusChanged(Event):
    subject: ClassVar[str] = subjects.JOB_STATUS_TEMPLATE
    job_id: UUID
    status: JobStatus
    attempt: int
    current_epoch: int
    total_epochs: int
    progress_percent: float
    metrics: dict[str, float] = {}
    error_message: str | None = None


class JobCancelRequested(Event):
    subject: ClassVar[str] = subjects.JOB_CANCEL_TEMPLATE
    job_id: UUID


class TrainingStarted(Event):
    subject: ClassVar[str] = subjects.TRAINING_STARTED
    job_id: UUID
    attempt: int
    trainer_id: str
    total_epochs: int
    resumed_from_epoch: int | None = None


class EpochReported(Event):
    subject: ClassVar[str] = subjects.TELEMETRY_METRICS_TEMPLATE
    job_id: UUID
    attempt: int
    epoch: int  # from 1, as users count
    epochs: int
    metrics: dict[str, float]
    epoch_time_s: float | None = None


class LogsReported(Event):
    subject: ClassVar[str] = subjects.TELEMETRY_LOGS_TEMPLATE
    job_id: UUID
    attempt: int
    lines: list[str]


class CheckpointSaved(Event):
    subject: ClassVar[str] = subjects.TRAINING_CHECKPOINT
    job_id: UUID
    attempt: int
    artifact: Artifact


class TrainingCompleted(Event):
    subject: ClassVar[str] = subjects.TRAINING_COMPLETED
    job_id: UUID
    attempt: int
    artifacts: list[Artifact]
    metrics: dict[str, float]
    best_epoch: int | None
    config: dict[str, Any]
    dataset_id: UUID
    dataset_version: int
    manifest_sha256: str
    trainer_id: str | None = None
    trainer_version: str | None = None
    framework_version: str | None = None


class JobSucceeded(Event):
    """The scheduler accepted a completion from the job's current attempt: the fenced fact the registry registers
    a model version from, with the job's own facts (module, submitter, requested version) beside the trainer's."""

    subject: ClassVar[str] = subjects.JOB_SUCCEEDED
    job_id: UUID
    attempt: int
    name: str
    ai_module: str | None
    framework: str
    task: str
    submitted_by: str
    model_version: str | None = None
    artifacts: list[Artifact]
    metrics: dict[str, float]
    best_epoch: int | None
    config: dict[str, Any]
    dataset_id: UUID
    dataset_version: int
    manifest_sha256: str
    trainer_id: str | None = None
    trainer_version: str | None = None
    framework_version: str | None = None


class TrainingFailed(Event):
    subject: ClassVar[str] = subjects.TRAINING_FAILED
    job_id: UUID
    attempt: int
    error: str
    retryable: bool = True


class TrainingCancelled(Event):
    subject: ClassVar[str] = subjects.TRAINING_CANCELLED
    job_id: UUID
    attempt: int
