"""Edge devices, their enrollment, and deployments of released models to them (owned by distribution)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, model_validator

from modelyard.contracts.api.paging import INT32_MAX, PageQuery

Labels = dict[str, str]


class EnrollmentTokenCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    labels: Labels = Field(default_factory=dict, description="labels every device enrolled with it gets")
    expires_in_hours: int = Field(default=24, ge=1, le=24 * 30)


class EnrollmentToken(BaseModel):
    token: str = Field(description="shown once; one device enrolls with it")
    expires_at: datetime
    labels: Labels


class DeviceEnroll(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    token: str = Field(min_length=10, max_length=200)
    name: str = Field(min_length=1, max_length=200)
    hardware_id: str = Field(min_length=1, max_length=200)
    platform: str = Field(default="linux-x86_64", min_length=1, max_length=100)
    hardware: str = Field(default="cpu", min_length=1, max_length=100)
    labels: Labels = Field(default_factory=dict)


class TrustedKey(BaseModel):
    key_id: str
    public_key_pem: str


class DeviceEnrolled(BaseModel):
    """What an agent keeps: who it is, where its deployments arrive, whose signatures it trusts."""

    device_id: UUID
    org_id: UUID
    name: str
    deploy_subject: str
    status_subject: str
    heartbeat_subject: str
    trusted_keys: list[TrustedKey]
    nats_credentials: str | None = Field(
        default=None,
        description="shown once: the device's NATS .creds file (user JWT and seed), allowed only its own subjects; "
        "None when NATS runs without auth",
    )
    inbox_prefix: str | None = None


class ActiveModel(BaseModel):
    version: str
    counter: int


class Device(BaseModel):
    id: UUID
    org_id: UUID
    name: str
    hardware_id: str
    platform: str
    hardware: str
    labels: Labels
    enrolled_at: datetime
    last_heartbeat_at: datetime | None = None
    agent_version: str | None = None
    health: str | None = None
    active: dict[str, ActiveModel] = Field(default_factory=dict, description="module → the version it serves")


class DeviceQuery(PageQuery):
    label: str | None = Field(default=None, description="key=value")


class DeviceRef(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: UUID


class DeviceList(BaseModel):
    devices: list[Device]
    total: int


class Target(BaseModel):
    model_config = ConfigDict(extra="forbid")

    device: UUID | None = None
    labels: Labels | None = None
    all: bool = False

    @model_validator(mode="after")
    def _one(self) -> Target:
        chosen = sum([self.device is not None, self.labels is not None, self.all])
        if chosen != 1:
            raise ValueError("name exactly one of device, labels or all")
        return self


class DeploymentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model_id: UUID
    target: Target
    canary: int | None = Field(default=None, ge=1, le=INT32_MAX, description="devices in the first wave")
    canary_percent: float | None = Field(default=None, gt=0, le=100)
    wave_size: int | None = Field(
        default=None, ge=1, le=INT32_MAX, description="devices per wave after the canary; default: all"
    )
    failure_threshold: int = Field(
        default=0, ge=0, le=INT32_MAX, description="failed devices tolerated before the rollout aborts"
    )

    @model_validator(mode="after")
    def _canary(self) -> DeploymentCreate:
        if self.canary is not None and self.canary_percent is not None:
            raise ValueError("give canary or canary_percent, not both")
        return self


class DeploymentStatus(StrEnum):
    ROLLING = "rolling"
    PAUSED = "paused"
    COMPLETED = "completed"
    FAILED = "failed"  # finished, with failures within the threshold
    ABORTED = "aborted"


class DeviceDeployStatus(StrEnum):
    WAITING = "waiting"  # a later wave
    PENDING = "pending"  # sent, no answer yet
    DOWNLOADING = "downloading"
    INSTALLING = "installing"
    COMPLETED = "completed"
    FAILED = "failed"
    SKIPPED = "skipped"  # the rollout aborted before its wave

    @property
    def final(self) -> bool:
        return self in (DeviceDeployStatus.COMPLETED, DeviceDeployStatus.FAILED, DeviceDeployStatus.SKIPPED)


class DeploymentDevice(BaseModel):
    device: UUID
    name: str
    wave: int
    status: DeviceDeployStatus
    error: str | None = None
    attempts: int
    updated_at: datetime


class Deployment(BaseModel):
    id: UUID
    org_id: UUID
    model_id: UUID
    ai_module: str
    version: str
    counter: int
    status: DeploymentStatus
    current_wave: int
    waves: int
    failure_threshold: int
    failures: int
    devices: list[DeploymentDevice]
    created_by: str
    created_at: datetime
    updated_at: datetime


class DeploymentRef(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: UUID


class DeploymentQuery(PageQuery):
    model_id: UUID | None = None
    status: DeploymentStatus | None = None


class DeploymentList(BaseModel):
    deployments: list[Deployment]
    total: int
