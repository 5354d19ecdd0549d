"""Datasets: rows, their counts, listing and stats."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

import asyncpg

from modelyard.contracts.api.datasets import (
    ClassCount,
    Dataset,
    DatasetList,
    DatasetQuery,
    DatasetStats,
    DatasetStatus,
)
from modelyard.contracts.envelope import Event
from modelyard.dataset.errors import DatasetIsArchived, DatasetNameTaken, DatasetNotFound
from modelyard.runtime import outbox
from modelyard.runtime.db import fetch_page

_COLUMNS = (
    "id, org_id, name, description, ai_module, task, environment, status, class_names, "
    "sample_count, labeled_count, verified_count, created_by, created_at, updated_at"
)
_UPDATABLE = ("name", "description", "ai_module", "environment", "status", "class_names")


def _dataset(row: asyncpg.Record) -> Dataset:
    return Dataset.model_validate(dict(row))


class DatasetRepository:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def create(self, dataset: Dataset, *events: Event) -> Dataset:
        """Insert the row and its events in one transaction."""
        async with self._pool.acquire() as conn, conn.transaction():
            try:
                await conn.execute(
                    f"INSERT INTO datasets ({_COLUMNS}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15)",
                    *dataset.model_dump(mode="python").values(),
                )
            except asyncpg.UniqueViolationError:
                raise DatasetNameTaken(dataset.name) from None
            await outbox.enqueue(conn, *events)
        return dataset

    async def get(self, org_id: UUID, dataset_id: UUID, conn: asyncpg.Connection | None = None) -> Dataset:
        row = await (conn or self._pool).fetchrow(
            f"SELECT {_COLUMNS} FROM datasets WHERE org_id = $1 AND id = $2", org_id, dataset_id
        )
        if row is None:
            raise DatasetNotFound(dataset_id)
        return _dataset(row)

    async def get_for_update(self, conn: asyncpg.Connection, org_id: UUID, dataset_id: UUID) -> Dataset:
        """Lock the dataset row for the rest of the transaction (writers to one dataset go one at a time)."""
        row = await conn.fetchrow(
            f"SELECT {_COLUMNS} FROM datasets WHERE org_id = $1 AND id = $2 FOR UPDATE", org_id, dataset_id
        )
        if row is None:
            raise DatasetNotFound(dataset_id)
        return _dataset(row)

    async def get_writable(self, conn: asyncpg.Connection, org_id: UUID, dataset_id: UUID) -> Dataset:
        dataset = await self.get_for_update(conn, org_id, dataset_id)
        if dataset.status is DatasetStatus.ARCHIVED:
            raise DatasetIsArchived(dataset_id)
        return dataset

    async def page(self, org_id: UUID, query: DatasetQuery) -> DatasetList:
        filters = {"org_id": org_id} | query.model_dump(include={"ai_module", "task", "environment", "status"})
        async with self._pool.acquire() as conn:
            rows, total = await fetch_page(
                conn,
                table="datasets",
                columns=_COLUMNS,
                equal=filters,
                order_by="created_at DESC, id",
                limit=query.limit,
                offset=query.offset,
            )
        return DatasetList(datasets=[_dataset(r) for r in rows], total=total)

    async def update(
        self, conn: asyncpg.Connection, org_id: UUID, dataset_id: UUID, changes: dict[str, Any]
    ) -> Dataset:
        """Apply the given column changes (names from _UPDATABLE only)."""
        assert set(changes) <= set(_UPDATABLE)
        sets = ", ".join(f"{name} = ${i}" for i, name in enumerate(changes, start=3))
        try:
            row = await conn.fetchrow(
                f"UPDATE datasets SET {sets}, updated_at = now() WHERE org_id = $1 AND id = $2 RETURNING {_COLUMNS}",
                org_id,
                dataset_id,
                *changes.values(),
            )
        except asyncpg.UniqueViolationError:
            raise DatasetNameTaken(str(changes.get("name"))) from None
        if row is None:
            raise DatasetNotFound(dataset_id)
        return _dataset(row)

    async def recount(self, conn: asyncpg.Connection, dataset_id: UUID) -> None:
        """Bring the dataset's sample, labeled and verified counts in line with its samples."""
        await conn.execute(
            """UPDATE datasets d SET
                 sample_count = c.total, labeled_count = c.labeled, verified_count = c.verified, updated_at = now()
               FROM (SELECT count(*) AS total,
                            count(*) FILTER (WHERE status IN ('labeled', 'verified')) AS labeled,
                            count(*) FILTER (WHERE status = 'verified') AS verified
                     FROM samples WHERE dataset_id = $1) c
               WHERE d.id = $1""",
            dataset_id,
        )

    async def stored_bytes(
        self, conn: asyncpg.Connection, dataset_id: UUID, among: Sequence[str] = ()
    ) -> tuple[int, set[str]]:
        """The bytes the dataset holds (its samples' sizes; what the plan's `max_dataset_bytes` limits; a blob
        another dataset shares counts in each), and which of the sha256s in `among` it holds already (those add
        nothing when imported again). One query."""
        row = await conn.fetchrow(
            """SELECT COALESCE(sum(size), 0) AS stored,
                      COALESCE(array_agg(sha256) FILTER (WHERE sha256 = ANY($2::text[])), '{}') AS held
               FROM samples WHERE dataset_id = $1""",
            dataset_id,
            list(among),
        )
        assert row is not None
        return int(row["stored"]), set(row["held"])

    async def stats(self, org_id: UUID, dataset_id: UUID) -> DatasetStats:
        dataset = await self.get(org_id, dataset_id)
        async with self._pool.acquire() as conn:
            by_status = {
                r["status"]: r["n"]
                for r in await conn.fetch(
                    "SELECT status, count(*) AS n FROM samples WHERE dataset_id = $1 GROUP BY status", dataset_id
                )
            }
            summary = await conn.fetchrow(
                """SELECT avg(rating) AS average_rating, count(rating) AS rated,
                          min((metadata ->> 'captured_at')::timestamptz) AS first_captured,
                          max((metadata ->> 'captured_at')::timestamptz) AS last_captured,
                          min(created_at) AS first_added, max(created_at) AS last_added
                   FROM samples WHERE dataset_id = $1""",
                dataset_id,
            )
            classes = await conn.fetch(
                """WITH ids AS (
                     SELECT id, (b ->> 'class_id')::int AS class_id FROM samples,
                            jsonb_array_elements(labels -> 'boxes') b WHERE dataset_id = $1
                     UNION ALL
                     SELECT id, (p ->> 'class_id')::int FROM samples,
                            jsonb_array_elements(labels -> 'polygons') p WHERE dataset_id = $1
                     UNION ALL
                     SELECT id, (labels ->> 'class_id')::int FROM samples
                     WHERE dataset_id = $1 AND labels ->> 'class_id' IS NOT NULL)
                   SELECT class_id, count(DISTINCT id) AS samples, count(*) AS instances
                   FROM ids GROUP BY class_id ORDER BY class_id""",
                dataset_id,
            )
        names = dataset.class_names
        return DatasetStats(
            dataset_id=dataset_id,
            samples=sum(by_status.values()),
            by_status=by_status,
            labeled=by_status.get("labeled", 0) + by_status.get("verified", 0),
            verified=by_status.get("verified", 0),
            rejected=by_status.get("rejected", 0),
            class_balance=[
                ClassCount(
                    class_id=r["class_id"],
                    name=names[r["class_id"]] if r["class_id"] < len(names) else None,
                    samples=r["samples"],
                    instances=r["instances"],
                )
                for r in classes
            ],
            average_rating=summary["average_rating"],
            rated=summary["rated"],
            first_captured_at=summary["first_captured"],
            last_captured_at=summary["last_captured"],
            first_added_at=summary["first_added"],
            last_added_at=summary["last_added"],
        )
