"""Resumable uploads. Chunk bytes never go over NATS: the gateway asks the dataset service where the chunk goes
(a presigned S3 part URL), streams the request body there while hashing it, and reports the stored chunk with its
sha256. A chunk whose bytes do not match `X-Chunk-Sha256` is refused and not recorded."""

from __future__ import annotations

import hashlib
import re
from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web

from modelyard.contracts import subjects
from modelyard.contracts.api.problems import FieldError
from modelyard.contracts.api.uploads import (
    ChunkDestination,
    ChunkReceived,
    ChunkTarget,
    Upload,
    UploadCreate,
    UploadRef,
)
from modelyard.gateway import context
from modelyard.gateway.forward import answer, call, payload
from modelyard.runtime.problems import InvalidInput, ServiceError, Unavailable

routes = web.RouteTableDef()
UPLOAD = {"id": "id"}
CHUNK = {"id": "id", "index": "index"}
CHUNK_SHA_HEADER = "X-Chunk-Sha256"
_SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")
STREAM_BLOCK = 1 << 20


class LengthRequired(ServiceError):
    status, slug, title = 411, "length-required", "Content-Length required"


class ChunkHashMismatch(InvalidInput):
    slug = "chunk-sha256-mismatch"
    title = "Chunk sha256 does not match"


def _header_error(detail: str) -> InvalidInput:
    return InvalidInput(detail, errors=[FieldError(field=CHUNK_SHA_HEADER, message=detail, code="header")])


@routes.post("/api/v1/uploads")
async def create_upload(request: web.Request) -> web.Response:
    upload = await call(request, subjects.SVC_UPLOAD_CREATE, UploadCreate, Upload, use_body=True)
    return answer(upload, 201, {"Location": f"/api/v1/uploads/{upload.id}"})


@routes.get("/api/v1/uploads/{id}")
async def get_upload(request: web.Request) -> web.Response:
    return answer(await call(request, subjects.SVC_UPLOAD_GET, UploadRef, Upload, path=UPLOAD))


@routes.delete("/api/v1/uploads/{id}")
async def abort_upload(request: web.Request) -> web.Response:
    return answer(await call(request, subjects.SVC_UPLOAD_ABORT, UploadRef, Upload, path=UPLOAD))


@routes.post("/api/v1/uploads/{id}/finalize")
async def finalize_upload(request: web.Request) -> web.Response:
    """202 while the import runs (poll GET /api/v1/uploads/{id}); the whole file's sha256 is checked first."""
    upload = await call(request, subjects.SVC_UPLOAD_FINALIZE, UploadRef, Upload, path=UPLOAD, timeout_s=600)
    return answer(upload, 202 if not upload.state.final else 200)


@routes.put("/api/v1/uploads/{id}/chunks/{index}")
async def put_chunk(request: web.Request) -> web.Response:
    claimed = request.headers.get(CHUNK_SHA_HEADER, "")
    if not _SHA256.match(claimed):
        raise _header_error(f"send the chunk's sha256 (64 hex digits) in {CHUNK_SHA_HEADER}")
    target = await payload(request, ChunkTarget, path=CHUNK)
    rpc, principal, cid = request.app[context.RPC], context.principal(request), context.correlation_id(request)
    destination = await rpc.call(subjects.SVC_UPLOAD_CHUNK_TARGET, principal, target, cid, ChunkDestination)
    if request.content_length is None:
        raise LengthRequired(f"send Content-Length: chunk {target.index} is {destination.expected_size} bytes")
    if request.content_length != destination.expected_size:
        detail = f"chunk {target.index} must be {destination.expected_size} bytes, got {request.content_length}"
        raise InvalidInput(detail, errors=[FieldError(field="body", message=detail, code="chunk_size")])

    digest = hashlib.sha256()

    async def hashed() -> AsyncIterator[bytes]:
        async for block in request.content.iter_chunked(STREAM_BLOCK):
            digest.update(block)
            yield block

    headers = {"Content-Length": str(destination.expected_size)}
    try:
        async with request.app[context.HTTP].put(destination.url, data=hashed(), headers=headers) as stored:
            if stored.status != 200:
                raise Unavailable(
                    f"the object store refused the chunk ({stored.status}): {(await stored.text())[:200]}"
                )
            etag = stored.headers.get("ETag", "").strip('"')
    except aiohttp.ClientError as exc:
        raise Unavailable(f"the object store could not be reached: {exc}") from exc
    actual = digest.hexdigest()
    if actual != claimed.lower():
        raise ChunkHashMismatch(
            f"chunk {target.index} has sha256 {actual}, not {claimed.lower()}; send it again",
            errors=[
                FieldError(field=CHUNK_SHA_HEADER, message="does not match the bytes sent", code="sha256_mismatch")
            ],
        )
    received = ChunkReceived(id=target.id, index=target.index, size=destination.expected_size, sha256=actual, etag=etag)
    return answer(await rpc.call(subjects.SVC_UPLOAD_CHUNK_RECEIVED, principal, received, cid, Upload))
