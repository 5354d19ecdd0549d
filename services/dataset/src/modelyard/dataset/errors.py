"""Errors of the dataset service; the category (runtime.problems) decides the HTTP status."""

from __future__ import annotations

from uuid import UUID

from modelyard.runtime.problems import Conflict, NotFound


class DatasetNotFound(NotFound):
    slug = "dataset-not-found"
    title = "Dataset not found"

    def __init__(self, dataset_id: UUID) -> None:
        super().__init__(f"dataset {dataset_id} does not exist in this organisation", dataset_id=str(dataset_id))


class DatasetNameTaken(Conflict):
    slug = "dataset-name-taken"
    title = "Dataset name already used"

    def __init__(self, name: str) -> None:
        super().__init__(f"a dataset named {name!r} already exists in this organisation", name=name)
