"""Rules of the dataset domain that do not depend on storage."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from modelyard.contracts.api.datasets import Dataset, DatasetCreate, DatasetStatus
from modelyard.contracts.api.identity import Principal
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
