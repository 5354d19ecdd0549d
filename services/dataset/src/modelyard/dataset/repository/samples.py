"""Samples, their annotations and reviews."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

import asyncpg

from modelyard.contracts.api.samples import (
    Annotation,
    Labels,
    Review,
    Sample,
    SampleDetail,
    SampleList,
    SampleQuery,
)
from modelyard.dataset.errors import SampleNotFound
from modelyard.runtime.db import fetch_page

_COLUMNS = (
    "id, dataset_id, org_id, kind, sha256, size, media_type, labels, rating, split, status, quality, agreement, "
    "annotation_count, metadata, created_at, updated_at"
)


def _sample(row: asyncpg.Record) -> Sample:
    return Sample.model_validate(dict(row))


class SampleRepository:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def insert_many(
        self, conn: asyncpg.Connection, samples: Sequence[Sample], upload_id: UUID | None
    ) -> list[UUID]:
        """Insert; a sample whose bytes the dataset already holds is skipped. Returns the ids inserted."""
        inserted = []
        for s in samples:
            new_id = await conn.fetchval(
                """INSERT INTO samples (id, dataset_id, org_id, kind, sha256, size, media_type, labels, rating, split,
                                        status, quality, metadata, upload_id)
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
                   ON CONFLICT (dataset_id, sha256) DO NOTHING RETURNING id""",
                s.id,
                s.dataset_id,
                s.org_id,
                s.kind.value,
                s.sha256,
                s.size,
                s.media_type,
                s.labels.model_dump(mode="json"),
                s.rating,
                s.split.value if s.split else None,
                s.status.value,
                s.quality,
                s.metadata.model_dump(mode="json", exclude_none=True),
                upload_id,
            )
            if new_id is not None:
                inserted.append(UUID(str(new_id)))
        return inserted

    async def page(self, org_id: UUID, query: SampleQuery) -> SampleList:
        filters = {"org_id": org_id} | query.model_dump(include={"dataset_id", "status", "split"})
        async with self._pool.acquire() as conn:
            rows, total = await fetch_page(
                conn,
                table="samples",
                columns=_COLUMNS,
                equal=filters,
                order_by="created_at, id",
                limit=query.limit,
                offset=query.offset,
            )
        return SampleList(samples=[_sample(r) for r in rows], total=total)

    async def all_of(self, conn: asyncpg.Connection, dataset_id: UUID) -> list[Sample]:
        rows = await conn.fetch(f"SELECT {_COLUMNS} FROM samples WHERE dataset_id = $1 ORDER BY sha256", dataset_id)
        return [_sample(r) for r in rows]

    async def get(
        self,
        org_id: UUID,
        dataset_id: UUID,
        sample_id: UUID,
        conn: asyncpg.Connection | None = None,
        *,
        lock: bool = False,
    ) -> Sample:
        row = await (conn or self._pool).fetchrow(
            f"SELECT {_COLUMNS} FROM samples WHERE org_id = $1 AND dataset_id = $2 AND id = $3"
            + (" FOR UPDATE" if lock else ""),
            org_id,
            dataset_id,
            sample_id,
        )
        if row is None:
            raise SampleNotFound(sample_id)
        return _sample(row)

    async def detail(self, org_id: UUID, dataset_id: UUID, sample_id: UUID) -> SampleDetail:
        sample = await self.get(org_id, dataset_id, sample_id)
        async with self._pool.acquire() as conn:
            annotations = await conn.fetch(
                """SELECT annotator, labels, rating, created_at FROM annotations
                   WHERE sample_id = $1 ORDER BY created_at""",
                sample_id,
            )
            reviews = await conn.fetch(
                "SELECT reviewer, decision, reason, created_at FROM reviews WHERE sample_id = $1 ORDER BY id", sample_id
            )
        return SampleDetail(
            **sample.model_dump(),
            annotations=[Annotation.model_validate(dict(a)) for a in annotations],
            reviews=[Review.model_validate(dict(r)) for r in reviews],
        )

    async def blob_known(self, org_id: UUID, sha256: str) -> asyncpg.Record | None:
        """A sample of this organisation with these bytes (any dataset): its kind, size and type."""
        return await self._pool.fetchrow(
            "SELECT kind, size, media_type FROM samples WHERE org_id = $1 AND sha256 = $2 LIMIT 1", org_id, sha256
        )

    async def annotate(
        self, conn: asyncpg.Connection, sample: Sample, annotator: str, labels: Labels, rating: float | None
    ) -> list[tuple[Labels, float | None]]:
        """Record the annotator's current labels; returns every annotator's, for the agreement score."""
        await conn.execute(
            """INSERT INTO annotations (sample_id, org_id, annotator, labels, rating) VALUES ($1, $2, $3, $4, $5)
               ON CONFLICT (sample_id, annotator) DO UPDATE
               SET labels = EXCLUDED.labels, rating = EXCLUDED.rating, created_at = now()""",
            sample.id,
            sample.org_id,
            annotator,
            labels.model_dump(mode="json"),
            rating,
        )
        rows = await conn.fetch("SELECT labels, rating FROM annotations WHERE sample_id = $1", sample.id)
        return [(Labels.model_validate(r["labels"]), r["rating"]) for r in rows]

    async def update(self, conn: asyncpg.Connection, sample_id: UUID, changes: dict[str, Any]) -> Sample:
        sets = ", ".join(f"{name} = ${i}" for i, name in enumerate(changes, start=2))
        row = await conn.fetchrow(
            f"UPDATE samples SET {sets}, updated_at = now() WHERE id = $1 RETURNING {_COLUMNS}",
            sample_id,
            *changes.values(),
        )
        if row is None:
            raise SampleNotFound(sample_id)
        return _sample(row)

    async def add_review(
        self, conn: asyncpg.Connection, sample: Sample, reviewer: str, decision: str, reason: str | None
    ) -> None:
        await conn.execute(
            "INSERT INTO reviews (sample_id, org_id, reviewer, decision, reason) VALUES ($1, $2, $3, $4, $5)",
            sample.id,
            sample.org_id,
            reviewer,
            decision,
            reason,
        )

    async def delete(self, conn: asyncpg.Connection, sample: Sample) -> None:
        await conn.execute("DELETE FROM samples WHERE id = $1", sample.id)

    async def rate_by_source_path(
        self, conn: asyncpg.Connection, dataset_id: UUID, frame_path: str, rating: float
    ) -> UUID | None:
        """Set the rating of the sample imported from `frame_path` (or with that file name); None if none."""
        row = await conn.fetchrow(
            """UPDATE samples SET rating = $3,
                      status = CASE WHEN status = 'unlabeled' THEN 'labeled' ELSE status END, updated_at = now()
               WHERE id = (SELECT id FROM samples WHERE dataset_id = $1
                           AND (metadata ->> 'source_path' = $2
                                OR right(metadata ->> 'source_path', length($2) + 1) = '/' || $2)
                           ORDER BY created_at LIMIT 1)
               RETURNING id""",
            dataset_id,
            frame_path,
            rating,
        )
        return None if row is None else UUID(str(row["id"]))
