"""Facts of the dataset service, on the DATASETS stream."""

from __future__ import annotations

from typing import ClassVar
from uuid import UUID

from modelyard.contracts import subjects
from modelyard.contracts.api.datasets import DatasetStatus, Task
from modelyard.contracts.api.samples import ReviewDecision, SampleStatus
from modelyard.contracts.envelope import Event


class DatasetCreated(Event):
    subject: ClassVar[str] = subjects.DATASET_CREATED
    dataset_id: UUID
    name: str
    task: Task
    ai_module: str | None = None


class DatasetUpdated(Event):
    subject: ClassVar[str] = subjects.DATASET_UPDATED
    dataset_id: UUID
    changed: list[str]


class DatasetArchived(Event):
    subject: ClassVar[str] = subjects.DATASET_ARCHIVED
    dataset_id: UUID
    previous_status: DatasetStatus


class SamplesAdded(Event):
    subject: ClassVar[str] = subjects.DATASET_SAMPLES_ADDED
    dataset_id: UUID
    count: int
    skipped: int = 0
    upload_id: UUID | None = None
    sample_ids: list[UUID] = []


class SampleUpdated(Event):
    subject: ClassVar[str] = subjects.DATASET_SAMPLE_UPDATED
    dataset_id: UUID
    sample_id: UUID
    status: SampleStatus
    changed: list[str]


class SampleDeleted(Event):
    subject: ClassVar[str] = subjects.DATASET_SAMPLE_DELETED
    dataset_id: UUID
    sample_id: UUID
    sha256: str


class SampleReviewed(Event):
    subject: ClassVar[str] = subjects.DATASET_SAMPLE_REVIEWED
    dataset_id: UUID
    sample_id: UUID
    decision: ReviewDecision
    reason: str | None
    status: SampleStatus


class DatasetVersionPublished(Event):
    subject: ClassVar[str] = subjects.DATASET_VERSION_PUBLISHED
    dataset_id: UUID
    version: int
    manifest_sha256: str
    manifest_key: str
    sample_count: int
