"""Unfinished uploads expire: their S3 multipart upload is aborted (the parts are freed) and an UploadExpired
event says so. Runs in every dataset service process; row locks keep two sweepers off the same upload."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime

from modelyard.contracts.api.uploads import UploadState
from modelyard.contracts.events import UploadExpired
from modelyard.dataset.deps import Deps
from modelyard.runtime import outbox, tasks
from modelyard.runtime.audit import audit_event
from modelyard.runtime.logging import get_logger

log = get_logger(__name__)


async def expire_uploads(deps: Deps, now: datetime | None = None) -> int:
    """Expire what is due; returns how many."""
    expired = 0
    for upload_id in await deps.uploads.expired(now or datetime.now(UTC)):
        async with deps.pool.acquire() as conn, conn.transaction():
            upload = await deps.uploads.get(None, upload_id, conn, lock=True)
            if upload.state is not UploadState.RECEIVING:
                continue
            await deps.store.abort_multipart(upload.row["s3_key"], upload.row["s3_upload_id"])
            await deps.uploads.set_state(conn, upload_id, UploadState.EXPIRED, error="expired before it was finalized")
            event = UploadExpired(
                correlation_id=f"sweep-{upload_id}",
                org_id=upload.row["org_id"],
                actor="service:dataset",
                upload_id=upload_id,
                dataset_id=upload.row["dataset_id"],
                received_chunks=len(upload.chunks),
            )
            await outbox.enqueue(
                conn,
                event,
                audit_event(
                    event,
                    service="dataset",
                    action="upload_expired",
                    resource_type="upload",
                    resource_id=upload_id,
                    dataset_id=str(upload.row["dataset_id"]),
                    received_chunks=len(upload.chunks),
                ),
            )
            expired += 1
    return expired


async def sweep_forever(deps: Deps) -> None:
    while True:
        try:
            count = await expire_uploads(deps)
            if count:
                log.info("uploads.expired", count=count)
        except Exception as exc:  # noqa: BLE001 - the next round tries again
            log.warning("uploads.sweep_failed", error=repr(exc))
        await asyncio.sleep(deps.settings.sweep_interval_s)


@contextlib.asynccontextmanager
async def sweeping(deps: Deps) -> AsyncIterator[None]:
    task = asyncio.create_task(sweep_forever(deps), name="upload-sweeper")
    try:
        yield
    finally:
        await tasks.stop(task)
