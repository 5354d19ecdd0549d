"""Facts of the dataset service, on the DATASETS stream."""

from __future__ import annotations

from typing import ClassVar
from uuid import UUID

from modelyard.contracts import subjects
from modelyard.contracts.api.datasets import Task
from modelyard.contracts.envelope import Event


class DatasetCreated(Event):
    subject: ClassVar[str] = subjects.DATASET_CREATED
    dataset_id: UUID
    name: str
    task: Task
    ai_module: str | None = None
