"""Rules of the dataset domain that do not depend on storage."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from modelyard.contracts.api.datasets import Dataset, DatasetCreate, DatasetStatus
from modelyard.contracts.api.identity import Principal
from modelyard.contracts.api.samples import Labels, Sample, SampleKind, SampleMetadata, SampleStatus, Split
from modelyard.contracts.events import DatasetCreated


def new_dataset(principal: Principal, spec: DatasetCreate) -> Dataset:
    """A new dataset starts as a draft with no samples; its class list has no duplicates."""
    now = datetime.now(UTC)
    return Dataset(
        id=uuid.uuid4(),
        org_id=principal.org_id,
        name=spec.name,
        description=spec.description,
        ai_module=spec.ai_module,
        task=spec.task,
        environment=spec.environment,
        status=DatasetStatus.DRAFT,
        class_names=list(dict.fromkeys(spec.class_names)),
        created_by=principal.actor,
        created_at=now,
        updated_at=now,
    )


def created_event(dataset: Dataset, correlation_id: str) -> DatasetCreated:
    return DatasetCreated(
        correlation_id=correlation_id,
        org_id=dataset.org_id,
        actor=dataset.created_by,
        dataset_id=dataset.id,
        name=dataset.name,
        task=dataset.task,
        ai_module=dataset.ai_module,
    )


def status_after_labeling(current: SampleStatus, labels: Labels, rating: float | None) -> SampleStatus:
    """New labels need a new review: a verified or rejected sample goes back to labeled."""
    if labels.empty and rating is None:
        return SampleStatus.UNLABELED if current is SampleStatus.UNLABELED else current
    return SampleStatus.LABELED


def new_sample(
    dataset: Dataset,
    *,
    kind: SampleKind,
    sha256: str,
    size: int,
    media_type: str,
    labels: Labels,
    rating: float | None,
    split: Split | None,
    metadata: SampleMetadata,
    quality: float | None = None,
) -> Sample:
    """A sample joining the dataset: labeled if it comes with labels or a rating, unlabeled otherwise."""
    now = datetime.now(UTC)
    return Sample(
        id=uuid.uuid4(),
        dataset_id=dataset.id,
        org_id=dataset.org_id,
        kind=kind,
        sha256=sha256,
        size=size,
        media_type=media_type,
        labels=labels,
        rating=rating,
        split=split,
        status=status_after_labeling(SampleStatus.UNLABELED, labels, rating),
        quality=quality,
        agreement=None,
        annotation_count=0,
        metadata=metadata,
        created_at=now,
        updated_at=now,
    )
