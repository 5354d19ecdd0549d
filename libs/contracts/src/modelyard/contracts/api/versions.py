"""Immutable dataset versions: a content-addressed manifest of samples, labels, review state and split."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from modelyard.contracts.api.datasets import Task
from modelyard.contracts.api.paging import INT32_MAX
from modelyard.contracts.api.samples import Labels, SampleKind, SampleStatus, Split


class Include(StrEnum):
    VERIFIED = "verified"
    ALL = "all"  # every sample but the rejected ones


class VersionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dataset_id: UUID
    include: Include = Include.VERIFIED
    val_fraction: float = Field(default=0.2, ge=0.0, le=0.9)
    seed: int = Field(default=0, ge=0, le=2**31 - 1)


class VersionRef(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dataset_id: UUID
    version: int = Field(ge=1, le=INT32_MAX)


class DatasetRef(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dataset_id: UUID


class ManifestSample(BaseModel):
    model_config = ConfigDict(frozen=True)

    sha256: str
    kind: SampleKind
    media_type: str
    size: int
    labels: Labels
    rating: float | None
    split: Split
    status: SampleStatus
    name: str = Field(description="a file name for exports: the source name, else sha256 + extension")


class Manifest(BaseModel):
    """What a version is. Its sha256 is taken over this document in canonical JSON; no timestamps inside, so the
    same samples, labels, review state and split always give the same sha256."""

    model_config = ConfigDict(frozen=True)

    format: int = 1
    dataset_id: UUID
    task: Task
    class_names: list[str]
    include: Include
    val_fraction: float
    seed: int
    samples: list[ManifestSample]


class DatasetVersion(BaseModel):
    dataset_id: UUID
    org_id: UUID
    version: int
    manifest_sha256: str
    manifest_key: str
    include: Include
    val_fraction: float
    seed: int
    sample_count: int
    train_count: int
    val_count: int
    class_names: list[str]
    created_by: str
    created_at: datetime
    created: bool = Field(default=True, description="False when the same content was already published")


class VersionList(BaseModel):
    versions: list[DatasetVersion]


class ExportLink(BaseModel):
    url: str
    sha256: str
    size: int
    expires_in_s: int
