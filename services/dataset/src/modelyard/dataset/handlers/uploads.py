"""Resumable uploads. The gateway streams each chunk straight into S3 through a presigned part URL it asks for
here, then reports the chunk with its sha256; finalize joins the parts and hands the file to the importer
(through an UploadFinalized event, so it survives a restart), which checks the whole file's sha256 first."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from faststream.nats import NatsBroker

from modelyard.contracts import plans, subjects
from modelyard.contracts.api.identity import Principal
from modelyard.contracts.api.problems import FieldError
from modelyard.contracts.api.uploads import (
    ChunkDestination,
    ChunkReceived,
    ChunkTarget,
    Upload,
    UploadCreate,
    UploadRef,
    UploadState,
    chunk_count,
)
from modelyard.contracts.events import UploadFinalized
from modelyard.dataset.blobs import upload_key
from modelyard.dataset.deps import Deps
from modelyard.dataset.errors import (
    ChunkOutOfRange,
    DatasetTooLarge,
    TooManyOpenUploads,
    UploadIncomplete,
    UploadNotReceiving,
    UploadTooLarge,
)
from modelyard.dataset.repository.uploads import UploadRow
from modelyard.dataset.settings import QUEUE
from modelyard.runtime import outbox
from modelyard.runtime.audit import audit
from modelyard.runtime.problems import InvalidInput
from modelyard.runtime.rpc import responder


def _receiving(upload: UploadRow, index: int | None = None) -> None:
    if upload.state is not UploadState.RECEIVING:
        raise UploadNotReceiving(upload.id, upload.state.value)
    if index is not None and not 0 <= index < upload.row["chunk_count"]:
        raise ChunkOutOfRange(index, upload.row["chunk_count"])


def register(broker: NatsBroker, deps: Deps) -> None:
    repo = deps.uploads

    @responder(broker, subjects.SVC_UPLOAD_CREATE, UploadCreate, queue=QUEUE)
    async def create(principal: Principal, spec: UploadCreate, correlation_id: str) -> Upload:
        limits = plans.limits(principal.plan)
        if spec.size > limits.max_upload_bytes:
            raise UploadTooLarge(spec.size, limits.max_upload_bytes, principal.plan.value)
        upload_id = uuid.uuid4()
        key = upload_key(upload_id)
        s3_upload_id = await deps.store.start_multipart(key)
        try:
            async with deps.pool.acquire() as conn, conn.transaction():
                await deps.datasets.get_writable(conn, principal.org_id, spec.dataset_id)
                if limits.max_dataset_bytes is not None:
                    stored, _ = await deps.datasets.stored_bytes(conn, spec.dataset_id)
                    if stored + spec.size > limits.max_dataset_bytes:
                        raise DatasetTooLarge(principal.plan.value, limits.max_dataset_bytes, stored, spec.size)
                if await repo.open_count(conn, principal.org_id) >= limits.max_open_uploads:
                    raise TooManyOpenUploads(limits.max_open_uploads, principal.plan.value)
                await repo.insert(
                    conn,
                    {
                        "id": upload_id,
                        "org_id": principal.org_id,
                        "dataset_id": spec.dataset_id,
                        "filename": spec.filename,
                        "kind": spec.kind.value,
                        "size": spec.size,
                        "sha256": spec.sha256.lower(),
                        "chunk_size": spec.chunk_size,
                        "chunk_count": chunk_count(spec.size, spec.chunk_size),
                        "s3_key": key,
                        "s3_upload_id": s3_upload_id,
                        "created_by": principal.actor,
                        "plan": principal.plan.value,
                        "expires_at": datetime.now(UTC) + timedelta(seconds=deps.settings.upload_ttl_s),
                    },
                )
                await outbox.enqueue(
                    conn,
                    audit(
                        principal,
                        correlation_id,
                        service="dataset",
                        action="upload_created",
                        resource_type="upload",
                        resource_id=upload_id,
                        dataset_id=str(spec.dataset_id),
                        size=spec.size,
                        kind=spec.kind.value,
                    ),
                )
        except BaseException:
            await deps.store.abort_multipart(key, s3_upload_id)
            raise
        return (await repo.get(principal.org_id, upload_id)).public()

    @responder(broker, subjects.SVC_UPLOAD_GET, UploadRef, queue=QUEUE)
    async def get(principal: Principal, ref: UploadRef, correlation_id: str) -> Upload:
        return (await repo.get(principal.org_id, ref.id)).public()

    @responder(broker, subjects.SVC_UPLOAD_CHUNK_TARGET, ChunkTarget, queue=QUEUE)
    async def chunk_target(principal: Principal, target: ChunkTarget, correlation_id: str) -> ChunkDestination:
        upload = await repo.get(principal.org_id, target.id)
        _receiving(upload, target.index)
        url = await deps.store.presigned_part_put(
            upload.row["s3_key"],
            upload.row["s3_upload_id"],
            target.index + 1,
            timedelta(seconds=deps.settings.presign_ttl_s),
        )
        return ChunkDestination(url=url, expected_size=upload.expected_size(target.index))

    @responder(broker, subjects.SVC_UPLOAD_CHUNK_RECEIVED, ChunkReceived, queue=QUEUE)
    async def chunk_received(principal: Principal, chunk: ChunkReceived, correlation_id: str) -> Upload:
        async with deps.pool.acquire() as conn, conn.transaction():
            upload = await repo.get(principal.org_id, chunk.id, conn, lock=True)
            _receiving(upload, chunk.index)
            if chunk.size != upload.expected_size(chunk.index):
                detail = f"chunk {chunk.index} must be {upload.expected_size(chunk.index)} bytes, got {chunk.size}"
                raise InvalidInput(detail, errors=[FieldError(field="size", message=detail, code="chunk_size")])
            await repo.record_chunk(conn, chunk.id, chunk.index, chunk.size, chunk.sha256.lower(), chunk.etag)
        return (await repo.get(principal.org_id, chunk.id)).public()

    @responder(broker, subjects.SVC_UPLOAD_FINALIZE, UploadRef, queue=QUEUE)
    async def finalize(principal: Principal, ref: UploadRef, correlation_id: str) -> Upload:
        """Join the parts and hand the file to the importer, which reads it once: it checks the whole file's
        sha256 and size on the way (a mismatch fails the upload with that reason) and then imports.
        Idempotent: finalizing an upload that is already importing or done returns it as it is."""
        async with deps.pool.acquire() as conn, conn.transaction():
            upload = await repo.get(principal.org_id, ref.id, conn, lock=True)
            if upload.state is not UploadState.RECEIVING:
                if upload.state is UploadState.EXPIRED:
                    raise UploadNotReceiving(upload.id, upload.state.value)
                return upload.public()
            if upload.missing:
                raise UploadIncomplete(upload.missing)
            row = upload.row
            await deps.store.complete_multipart(row["s3_key"], row["s3_upload_id"], upload.etags())
            # the import checks the dataset-size limit of the plan the upload is finalized under
            await repo.set_state(conn, upload.id, UploadState.IMPORTING, plan=principal.plan)
            await outbox.enqueue(
                conn,
                UploadFinalized(
                    correlation_id=correlation_id,
                    org_id=principal.org_id,
                    actor=principal.actor,
                    upload_id=upload.id,
                    dataset_id=row["dataset_id"],
                    kind=row["kind"],
                    size=row["size"],
                    sha256=row["sha256"],
                ),
                audit(
                    principal,
                    correlation_id,
                    service="dataset",
                    action="upload_finalized",
                    resource_type="upload",
                    resource_id=upload.id,
                    dataset_id=str(row["dataset_id"]),
                    size=row["size"],
                    kind=row["kind"],
                ),
            )
        return (await repo.get(principal.org_id, ref.id)).public()

    @responder(broker, subjects.SVC_UPLOAD_ABORT, UploadRef, queue=QUEUE)
    async def abort(principal: Principal, ref: UploadRef, correlation_id: str) -> Upload:
        async with deps.pool.acquire() as conn, conn.transaction():
            upload = await repo.get(principal.org_id, ref.id, conn, lock=True)
            _receiving(upload)
            await deps.store.abort_multipart(upload.row["s3_key"], upload.row["s3_upload_id"])
            await repo.set_state(conn, upload.id, UploadState.FAILED, error="aborted by the client")
            await outbox.enqueue(
                conn,
                audit(
                    principal,
                    correlation_id,
                    service="dataset",
                    action="upload_aborted",
                    resource_type="upload",
                    resource_id=upload.id,
                    dataset_id=str(upload.row["dataset_id"]),
                    received_chunks=len(upload.chunks),
                ),
            )
        return (await repo.get(principal.org_id, ref.id)).public()
