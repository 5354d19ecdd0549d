"""The model registry: versions with lineage, the approval gate, signed releases, rollback, default models."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from modelyard.contracts.api.paging import PageQuery
from modelyard.contracts.api.training import Artifact


class ModelStatus(StrEnum):
    DRAFT = "draft"
    TESTING = "testing"
    APPROVED = "approved"
    REJECTED = "rejected"
    RELEASED = "released"
    DEPRECATED = "deprecated"


class Transition(StrEnum):
    """The steps a person takes on a version; release and rollback have their own requests (they sign)."""

    TEST = "test"
    APPROVE = "approve"
    REJECT = "reject"
    DEPRECATE = "deprecate"


class Lineage(BaseModel):
    """Everything that made a version, each with a digest where one exists."""

    job_id: UUID
    job_name: str
    attempt: int
    submitted_by: str
    dataset_id: UUID
    dataset_version: int
    manifest_sha256: str
    framework: str
    task: str
    config: dict[str, Any]
    config_sha256: str
    base_version: str | None = None
    trainer_id: str | None = None
    trainer_version: str | None = None
    framework_version: str | None = None


class ModelVersion(BaseModel):
    id: UUID
    org_id: UUID
    ai_module: str
    version: str
    name: str
    task: str
    framework: str
    status: ModelStatus
    metrics: dict[str, float]
    artifacts: list[Artifact]
    job_id: UUID
    notes: str = ""
    is_default: bool = False
    release_counter: int | None = Field(default=None, description="the latest release of this version, if any")
    approved_by: str | None = None
    approved_at: datetime | None = None
    released_at: datetime | None = None
    created_at: datetime
    updated_at: datetime


class ModelQuery(PageQuery):
    ai_module: str | None = None
    status: ModelStatus | None = None
    job_id: UUID | None = None


class ModelList(BaseModel):
    models: list[ModelVersion]
    total: int


class ModelRef(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: UUID


class ModelUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: UUID
    notes: str = Field(max_length=10_000)


class ModelAction(BaseModel):
    """A step with its reason: every lifecycle change says why."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    id: UUID
    reason: str = Field(min_length=1, max_length=2000)


class ModelTransition(ModelAction):
    transition: Transition


class ReleaseRequest(ModelAction):
    expires_in_days: int = Field(default=365, ge=1, le=3650)
    platforms: list[str] = Field(default_factory=lambda: ["any"], min_length=1, max_length=20)
    hardware: list[str] = Field(default_factory=lambda: ["any"], min_length=1, max_length=20)


class ReleaseFile(BaseModel):
    name: str
    key: str
    sha256: str
    size: int


class Release(BaseModel):
    """One signed release: model.onnx and release.json, signed together; the signature is a Sigstore bundle."""

    id: UUID
    org_id: UUID
    ai_module: str
    model_id: UUID
    version: str
    counter: int
    kind: str = Field(description="release, rollback or revert (to the module's default)")
    reason: str
    files: list[ReleaseFile]
    signature_key: str
    key_id: str
    issued_at: datetime
    expires_at: datetime
    released_by: str


class ReleaseDownload(Release):
    urls: dict[str, str] = Field(description="file name → short-lived download URL")
    signature_url: str
    url_expires_in_s: int


class ModuleInfo(BaseModel):
    ai_module: str
    default_model_id: UUID | None
    default_version: str | None
    current_release: Release | None
    versions: int


class ModuleList(BaseModel):
    modules: list[ModuleInfo]


class ModuleRef(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    ai_module: str = Field(min_length=1, max_length=100)
    reason: str = Field(min_length=1, max_length=2000)


class CompareQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    a: UUID
    b: UUID


class MetricDelta(BaseModel):
    metric: str
    a: float | None
    b: float | None
    delta: float | None


class Comparison(BaseModel):
    a: ModelVersion
    b: ModelVersion
    metrics: list[MetricDelta]


class SigningKey(BaseModel):
    key_id: str
    algorithm: str = "ecdsa-p256-sha256"
    public_key_pem: str


class SigningKeys(BaseModel):
    keys: list[SigningKey]


class RegistrySettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    four_eyes: bool = Field(default=True, description="approval needs someone other than the job's submitter")
