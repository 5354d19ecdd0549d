"""Jobs, their per-epoch metrics, log lines and artifacts."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import asyncpg

from modelyard.contracts.api.training import (
    Artifact,
    EpochMetrics,
    Job,
    JobList,
    JobQuery,
    JobStatus,
)
from modelyard.runtime.db import fetch_page
from modelyard.scheduler.errors import JobNotFound

_COLUMNS = (
    "id, org_id, name, dataset_id, dataset_version, manifest_sha256, ai_module, framework, task, mode, overrides, "
    "config, priority, pool, status, attempt, current_epoch, total_epochs, best_epoch, metrics, error_message, "
    "created_by, created_at, queued_at, started_at, finished_at, updated_at"
)
ACTIVE = ("pending", "queued", "running")


class JobRow:
    """A job as stored, with what only the scheduler sees."""

    def __init__(self, row: asyncpg.Record) -> None:
        self.row = row

    def __getitem__(self, name: str) -> Any:
        return self.row[name]

    @property
    def status(self) -> JobStatus:
        return JobStatus(self.row["status"])

    def public(self, artifacts: list[Artifact]) -> Job:
        values = {k: self.row[k] for k in _COLUMNS.split(", ")}
        total = values["total_epochs"] or int(values["config"].get("epochs", 0))
        done = values["current_epoch"]
        progress = 100.0 if values["status"] == "completed" else (round(100.0 * done / total, 1) if total else 0.0)
        return Job(**values | {"total_epochs": total, "progress_percent": progress, "artifacts": artifacts})


class JobRepository:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def insert(self, conn: asyncpg.Connection, values: dict[str, Any]) -> None:
        names = ", ".join(values)
        marks = ", ".join(f"${i}" for i in range(1, len(values) + 1))
        await conn.execute(f"INSERT INTO jobs ({names}) VALUES ({marks})", *values.values())

    async def row(
        self, org_id: UUID | None, job_id: UUID, conn: asyncpg.Connection | None = None, *, lock: bool = False
    ) -> JobRow:
        """org_id None: any organisation (the scheduler's own consumers)."""
        found = await (conn or self._pool).fetchrow(
            "SELECT *, manifest_key FROM jobs WHERE id = $1 AND ($2::uuid IS NULL OR org_id = $2)"
            + (" FOR UPDATE" if lock else ""),
            job_id,
            org_id,
        )
        if found is None:
            raise JobNotFound(job_id)
        return JobRow(found)

    async def update(self, conn: asyncpg.Connection, job_id: UUID, changes: dict[str, Any]) -> JobRow:
        sets = ", ".join(f"{name} = ${i}" for i, name in enumerate(changes, start=2))
        found = await conn.fetchrow(
            f"UPDATE jobs SET {sets}, updated_at = now() WHERE id = $1 RETURNING *", job_id, *changes.values()
        )
        if found is None:
            raise JobNotFound(job_id)
        return JobRow(found)

    async def public(self, org_id: UUID | None, job_id: UUID, conn: asyncpg.Connection | None = None) -> Job:
        job = await self.row(org_id, job_id, conn)
        return job.public(await self.artifacts(job_id, conn))

    async def page(self, org_id: UUID, query: JobQuery) -> JobList:
        filters = {"org_id": org_id} | query.model_dump(include={"status", "dataset_id", "ai_module"})
        async with self._pool.acquire() as conn:
            rows, total = await fetch_page(
                conn,
                table="jobs",
                columns="*",
                equal=filters,
                order_by="created_at DESC, id",
                limit=query.limit,
                offset=query.offset,
            )
            jobs = [JobRow(r).public(await self.artifacts(r["id"], conn)) for r in rows]
        return JobList(jobs=jobs, total=total)

    async def counts(self, conn: asyncpg.Connection, org_id: UUID) -> tuple[int, int]:
        """(active jobs, jobs submitted this calendar month) of the organisation; deleted jobs still count as
        submitted."""
        row = await conn.fetchrow(
            """SELECT (SELECT count(*) FROM jobs WHERE org_id = $1 AND status = ANY($2::text[])) AS active,
                      coalesce((SELECT submitted FROM job_submissions
                                WHERE org_id = $1 AND month = date_trunc('month', now())::date), 0) AS month""",
            org_id,
            list(ACTIVE),
        )
        assert row is not None
        return int(row["active"]), int(row["month"])

    async def count_submission(self, conn: asyncpg.Connection, org_id: UUID) -> None:
        await conn.execute(
            """INSERT INTO job_submissions (org_id, month, submitted) VALUES ($1, date_trunc('month', now())::date, 1)
               ON CONFLICT (org_id, month) DO UPDATE SET submitted = job_submissions.submitted + 1""",
            org_id,
        )

    async def add_metrics(
        self,
        conn: asyncpg.Connection,
        job_id: UUID,
        attempt: int,
        epoch: int,
        metrics: dict[str, float],
        seconds: float | None,
    ) -> bool:
        """False when the epoch was already recorded (a replay or a resumed attempt repeating it)."""
        status: str = await conn.execute(
            """INSERT INTO job_metrics (job_id, epoch, attempt, metrics, epoch_time_s) VALUES ($1, $2, $3, $4, $5)
               ON CONFLICT (job_id, epoch) DO NOTHING""",
            job_id,
            epoch,
            attempt,
            metrics,
            seconds,
        )
        return status == "INSERT 0 1"

    async def metrics(
        self, job_id: UUID, limit: int, *, latest: bool = False, conn: asyncpg.Connection | None = None
    ) -> list[EpochMetrics]:
        rows = await (conn or self._pool).fetch(
            f"""SELECT epoch, metrics, epoch_time_s, at FROM job_metrics WHERE job_id = $1
                ORDER BY epoch {"DESC" if latest else "ASC"} LIMIT $2""",
            job_id,
            limit,
        )
        found = [EpochMetrics.model_validate(dict(r)) for r in rows]
        return sorted(found, key=lambda m: m.epoch)

    async def add_logs(self, conn: asyncpg.Connection, job_id: UUID, attempt: int, lines: list[str]) -> None:
        start = await conn.fetchval("SELECT coalesce(max(line_no), -1) + 1 FROM job_logs WHERE job_id = $1", job_id)
        await conn.executemany(
            "INSERT INTO job_logs (job_id, line_no, attempt, line) VALUES ($1, $2, $3, $4)",
            [(job_id, start + i, attempt, line) for i, line in enumerate(lines)],
        )

    async def logs(self, job_id: UUID, offset: int, limit: int) -> tuple[list[str], int]:
        rows = await self._pool.fetch(
            "SELECT line_no, line FROM job_logs WHERE job_id = $1 AND line_no >= $2 ORDER BY line_no LIMIT $3",
            job_id,
            offset,
            limit,
        )
        lines = [r["line"] for r in rows]
        return lines, (rows[-1]["line_no"] + 1 if rows else offset)

    async def put_artifact(self, conn: asyncpg.Connection, job_id: UUID, attempt: int, artifact: Artifact) -> None:
        await conn.execute(
            """INSERT INTO job_artifacts (job_id, name, key, size, sha256, epoch, attempt)
               VALUES ($1, $2, $3, $4, $5, $6, $7)
               ON CONFLICT (job_id, name) DO UPDATE SET key = EXCLUDED.key, size = EXCLUDED.size,
                   sha256 = EXCLUDED.sha256, epoch = EXCLUDED.epoch, attempt = EXCLUDED.attempt""",
            job_id,
            artifact.name,
            artifact.key,
            artifact.size,
            artifact.sha256,
            artifact.epoch,
            attempt,
        )

    async def artifacts(self, job_id: UUID, conn: asyncpg.Connection | None = None) -> list[Artifact]:
        rows = await (conn or self._pool).fetch(
            "SELECT name, key, size, sha256, epoch FROM job_artifacts WHERE job_id = $1 ORDER BY name", job_id
        )
        return [Artifact.model_validate(dict(r)) for r in rows]

    async def delete(self, conn: asyncpg.Connection, job_id: UUID) -> None:
        await conn.execute("DELETE FROM jobs WHERE id = $1", job_id)
