"""Training: config presets and resolution, jobs, their metrics, logs and checkpoints."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from modelyard.contracts.api.common import SemVer
from modelyard.contracts.api.paging import INT32_MAX, PageQuery


class JobStatus(StrEnum):
    PENDING = "pending"
    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def final(self) -> bool:
        return self in (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED)


class Priority(StrEnum):
    HIGH = "high"
    NORMAL = "normal"
    LOW = "low"


class Pool(StrEnum):
    CPU = "cpu"
    GPU = "gpu"


class ConfigMode(StrEnum):
    USER = "user"
    DEVELOPER = "developer"


class ConfigQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    framework: str = "ultralytics"
    task: str = "detect"


class ConfigResolve(BaseModel):
    model_config = ConfigDict(extra="forbid")

    framework: str = "ultralytics"
    task: str = "detect"
    mode: ConfigMode = ConfigMode.USER
    overrides: dict[str, Any] = Field(default_factory=dict)


class ResolvedConfig(BaseModel):
    framework: str
    task: str
    mode: ConfigMode
    values: dict[str, Any]
    resolved_yaml: str
    cli_preview: str


class JobCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=200)
    dataset_id: UUID
    dataset_version: int = Field(ge=1, le=INT32_MAX)
    framework: str = "ultralytics"
    task: str | None = Field(default=None, description="defaults to the dataset's task")
    mode: ConfigMode = ConfigMode.USER
    overrides: dict[str, Any] = Field(default_factory=dict)
    priority: Priority = Priority.NORMAL
    pool: Pool = Pool.CPU
    model_version: SemVer | None = Field(
        default=None, description="the version the trained model registers as; default: next minor of its module"
    )


class Artifact(BaseModel):
    name: str  # last.pt, best.pt, model.onnx
    key: str
    size: int
    sha256: str
    epoch: int | None = None


class Job(BaseModel):
    id: UUID
    org_id: UUID
    name: str
    dataset_id: UUID
    dataset_version: int
    manifest_sha256: str
    ai_module: str | None
    framework: str
    task: str
    mode: ConfigMode
    overrides: dict[str, Any]
    config: dict[str, Any]
    priority: Priority
    pool: Pool
    status: JobStatus
    attempt: int
    current_epoch: int
    total_epochs: int
    progress_percent: float
    best_epoch: int | None
    metrics: dict[str, float]
    artifacts: list[Artifact]
    error_message: str | None
    created_by: str
    created_at: datetime
    queued_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    updated_at: datetime


class EpochMetrics(BaseModel):
    epoch: int
    metrics: dict[str, float]
    epoch_time_s: float | None = None
    at: datetime | None = None


class JobDetail(BaseModel):
    job: Job
    recent_metrics: list[EpochMetrics]


class JobList(BaseModel):
    jobs: list[Job]
    total: int


class JobQuery(PageQuery):
    status: JobStatus | None = None
    dataset_id: UUID | None = None
    ai_module: str | None = None


class JobRef(BaseModel):
    model_config = ConfigDict(extra="forbid")

    job_id: UUID


class MetricsQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    job_id: UUID
    limit: int = Field(default=1000, ge=1, le=10000)


class MetricsList(BaseModel):
    metrics: list[EpochMetrics]


class LogsQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    job_id: UUID
    offset: int = Field(default=0, ge=0, le=INT32_MAX)
    limit: int = Field(default=500, ge=1, le=10000)


class LogLines(BaseModel):
    lines: list[str]
    next_offset: int


class Checkpoint(BaseModel):
    name: str
    size: int
    sha256: str
    epoch: int | None
    url: str


class CheckpointList(BaseModel):
    checkpoints: list[Checkpoint]


class Claim(BaseModel):
    """A trainer asks to run the job of a dispatch message; the answer is its fencing token (attempt)."""

    model_config = ConfigDict(extra="forbid")

    job_id: UUID
    trainer_id: str
    delivery: int = Field(ge=1)


class ClaimGranted(BaseModel):
    job_id: UUID
    attempt: int
    org_id: UUID
    framework: str
    task: str
    config: dict[str, Any]
    manifest_key: str
    manifest_sha256: str
    dataset_id: UUID
    dataset_version: int
    resume_key: str | None = Field(description="last.pt of an earlier attempt to resume from")
    resume_best_key: str | None = Field(default=None, description="best.pt of the earlier attempts")
    metrics_so_far: int = 0
