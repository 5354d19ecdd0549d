"""Uploads and their chunks."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from modelyard.contracts.api.uploads import Upload, UploadState
from modelyard.contracts.plans import Plan
from modelyard.dataset.errors import UploadNotFound

_COLUMNS = (
    "id, org_id, dataset_id, filename, kind, size, sha256, chunk_size, chunk_count, state, s3_key, s3_upload_id, "
    "error, problems, imported_samples, skipped_samples, created_by, created_at, updated_at, expires_at, plan"
)


class UploadRow:
    """An upload as stored, with what only the service sees (S3 key and multipart id)."""

    def __init__(self, row: asyncpg.Record, chunks: list[asyncpg.Record]) -> None:
        self.row = row
        self.chunks = {c["index"]: c for c in chunks}

    @property
    def id(self) -> UUID:
        return UUID(str(self.row["id"]))

    @property
    def state(self) -> UploadState:
        return UploadState(self.row["state"])

    @property
    def missing(self) -> list[int]:
        return [i for i in range(self.row["chunk_count"]) if i not in self.chunks]

    def expected_size(self, index: int) -> int:
        size, chunk, count = int(self.row["size"]), int(self.row["chunk_size"]), int(self.row["chunk_count"])
        return chunk if index < count - 1 else size - chunk * (count - 1)

    def etags(self) -> list[str]:
        return [self.chunks[i]["etag"] for i in range(self.row["chunk_count"])]

    @property
    def plan(self) -> Plan | None:
        """The plan whose limits the import checks; None for uploads stored before plans were recorded."""
        return Plan(self.row["plan"]) if self.row["plan"] else None

    def public(self) -> Upload:
        internal = ("s3_key", "s3_upload_id", "plan")
        fields = {k: self.row[k] for k in self.row.keys() if k not in internal}  # noqa: SIM118
        return Upload(
            **fields,
            received=sorted(self.chunks),
            missing=self.missing,
            received_bytes=sum(c["size"] for c in self.chunks.values()),
        )


class UploadRepository:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def insert(self, conn: asyncpg.Connection, values: dict[str, Any]) -> None:
        names = ", ".join(values)
        marks = ", ".join(f"${i}" for i in range(1, len(values) + 1))
        await conn.execute(f"INSERT INTO uploads ({names}) VALUES ({marks})", *values.values())

    async def open_count(self, conn: asyncpg.Connection, org_id: UUID) -> int:
        count = await conn.fetchval(
            "SELECT count(*) FROM uploads WHERE org_id = $1 AND state IN ('receiving', 'importing')", org_id
        )
        return int(count)

    async def get(
        self, org_id: UUID | None, upload_id: UUID, conn: asyncpg.Connection | None = None, *, lock: bool = False
    ) -> UploadRow:
        """org_id None: any organisation (the service's own workers)."""
        db = conn or self._pool
        row = await db.fetchrow(
            f"SELECT {_COLUMNS} FROM uploads WHERE id = $1 AND ($2::uuid IS NULL OR org_id = $2)"
            + (" FOR UPDATE" if lock else ""),
            upload_id,
            org_id,
        )
        if row is None:
            raise UploadNotFound(upload_id)
        chunks = await db.fetch("SELECT index, size, sha256, etag FROM upload_chunks WHERE upload_id = $1", upload_id)
        return UploadRow(row, chunks)

    async def record_chunk(
        self, conn: asyncpg.Connection, upload_id: UUID, index: int, size: int, sha: str, etag: str
    ) -> None:
        """A resent chunk replaces the earlier copy (S3 keeps the last part uploaded under a number)."""
        await conn.execute(
            """INSERT INTO upload_chunks (upload_id, index, size, sha256, etag) VALUES ($1, $2, $3, $4, $5)
               ON CONFLICT (upload_id, index) DO UPDATE
               SET size = EXCLUDED.size, sha256 = EXCLUDED.sha256, etag = EXCLUDED.etag, received_at = now()""",
            upload_id,
            index,
            size,
            sha,
            etag,
        )
        await conn.execute("UPDATE uploads SET updated_at = now() WHERE id = $1", upload_id)

    async def set_state(
        self,
        conn: asyncpg.Connection,
        upload_id: UUID,
        state: UploadState,
        *,
        error: str | None = None,
        problems: list[dict[str, Any]] | None = None,
        imported: int | None = None,
        skipped: int | None = None,
        plan: Plan | None = None,
    ) -> None:
        await conn.execute(
            """UPDATE uploads SET state = $2, error = COALESCE($3, error),
                      problems = COALESCE($4::jsonb, problems),
                      imported_samples = COALESCE($5, imported_samples),
                      skipped_samples = COALESCE($6, skipped_samples),
                      plan = COALESCE($7, plan), updated_at = now()
               WHERE id = $1""",
            upload_id,
            state.value,
            error,
            problems,
            imported,
            skipped,
            plan.value if plan else None,
        )

    async def expired(self, now: datetime, limit: int = 100) -> list[UUID]:
        rows = await self._pool.fetch(
            "SELECT id FROM uploads WHERE state = 'receiving' AND expires_at < $1 ORDER BY expires_at LIMIT $2",
            now,
            limit,
        )
        return [UUID(str(r["id"])) for r in rows]
