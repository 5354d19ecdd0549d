"""PostgreSQL access for datasets. Driver errors are translated here; every query is scoped by org_id."""

from __future__ import annotations

from uuid import UUID

import asyncpg

from modelyard.contracts.api.datasets import Dataset
from modelyard.contracts.envelope import Event
from modelyard.dataset.errors import DatasetNameTaken, DatasetNotFound
from modelyard.runtime import outbox

_COLUMNS = (
    "id, org_id, name, description, ai_module, task, environment, status, class_names, "
    "sample_count, labeled_count, verified_count, created_by, created_at, updated_at"
)


class DatasetRepository:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def create(self, dataset: Dataset, event: Event) -> Dataset:
        """Insert the row and its DatasetCreated event in one transaction."""
        async with self._pool.acquire() as conn, conn.transaction():
            try:
                await conn.execute(
                    f"INSERT INTO datasets ({_COLUMNS}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15)",
                    *dataset.model_dump(mode="python").values(),
                )
            except asyncpg.UniqueViolationError:
                raise DatasetNameTaken(dataset.name) from None
            await outbox.enqueue(conn, event)
        return dataset

    async def get(self, org_id: UUID, dataset_id: UUID) -> Dataset:
        row = await self._pool.fetchrow(
            f"SELECT {_COLUMNS} FROM datasets WHERE org_id = $1 AND id = $2", org_id, dataset_id
        )
        if row is None:
            raise DatasetNotFound(dataset_id)
        return Dataset.model_validate(dict(row))
