"""Published dataset versions."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import asyncpg

from modelyard.contracts.api.versions import DatasetVersion
from modelyard.dataset.errors import VersionNotFound

_COLUMNS = (
    "dataset_id, org_id, version, manifest_sha256, manifest_key, include, val_fraction, seed, sample_count, "
    "train_count, val_count, class_names, created_by, created_at"
)


def _version(row: asyncpg.Record, *, created: bool = True) -> DatasetVersion:
    return DatasetVersion.model_validate({**dict(row), "created": created})


class VersionRepository:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def by_manifest(self, conn: asyncpg.Connection, dataset_id: UUID, sha256: str) -> DatasetVersion | None:
        row = await conn.fetchrow(
            f"SELECT {_COLUMNS} FROM versions WHERE dataset_id = $1 AND manifest_sha256 = $2", dataset_id, sha256
        )
        return None if row is None else _version(row, created=False)

    async def insert(self, conn: asyncpg.Connection, values: dict[str, Any]) -> DatasetVersion:
        """The next version number of the dataset (the caller holds the dataset row lock)."""
        number = await conn.fetchval(
            "SELECT coalesce(max(version), 0) + 1 FROM versions WHERE dataset_id = $1", values["dataset_id"]
        )
        values = {**values, "version": number}
        names = ", ".join(values)
        marks = ", ".join(f"${i}" for i in range(1, len(values) + 1))
        row = await conn.fetchrow(
            f"INSERT INTO versions ({names}) VALUES ({marks}) RETURNING {_COLUMNS}", *values.values()
        )
        return _version(row)

    async def page(self, org_id: UUID, dataset_id: UUID) -> list[DatasetVersion]:
        rows = await self._pool.fetch(
            f"SELECT {_COLUMNS} FROM versions WHERE org_id = $1 AND dataset_id = $2 ORDER BY version DESC",
            org_id,
            dataset_id,
        )
        return [_version(r) for r in rows]

    async def get(self, org_id: UUID, dataset_id: UUID, version: int) -> DatasetVersion:
        row = await self._pool.fetchrow(
            f"SELECT {_COLUMNS} FROM versions WHERE org_id = $1 AND dataset_id = $2 AND version = $3",
            org_id,
            dataset_id,
            version,
        )
        if row is None:
            raise VersionNotFound(dataset_id, version)
        return _version(row)
