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
    SHA256,
    ChunkDestination,
    ChunkReceived,
    ChunkTarget,
    Upload,
    UploadCreate,
    UploadRef,
)
from modelyard.contracts.permissions import Permission
from modelyard.gateway import context
from modelyard.gateway.endpoints import BINARY, Api, Endpoint, Link
from modelyard.runtime.problems import InvalidInput, ServiceError, Unavailable

api = Api("uploads")
routes = api.routes
UPLOAD = {"id": "id"}
THE_UPLOAD = {"id": "$response.body#/id"}
CHUNK = {"id": "id", "index": "index"}
CHUNK_SHA_HEADER = "X-Chunk-Sha256"
_SHA256 = re.compile(SHA256)
STREAM_BLOCK = 1 << 20


class LengthRequired(ServiceError):
    status, slug, title = 411, "length-required", "Content-Length required"


class ChunkHashMismatch(InvalidInput):
    slug = "chunk-sha256-mismatch"
    title = "Chunk sha256 does not match"


def _header_error(detail: str) -> InvalidInput:
    return InvalidInput(detail, errors=[FieldError(field=CHUNK_SHA_HEADER, message=detail, code="header")])


UPLOAD_LINKS = {
    "GetUpload": Link("get_upload", THE_UPLOAD),
    "PutFirstChunk": Link("put_chunk", THE_UPLOAD | {"index": "0"}),
    "FinalizeUpload": Link("finalize_upload", THE_UPLOAD),
    "AbortUpload": Link("abort_upload", THE_UPLOAD),
}


@api.route(
    "POST",
    "/api/v1/uploads",
    "Start a resumable upload",
    request=UploadCreate,
    permission=Permission.DATASET_MANAGE,
    from_body=True,
    response=Upload,
    status=201,
    errors={404, 409, 429},
    links=UPLOAD_LINKS,
)
async def create_upload(request: web.Request, ep: Endpoint[UploadCreate, Upload]) -> web.Response:
    """The answer names the chunks to send (`chunk_count`, `missing`). 404 for an unknown dataset, 409 for an
    archived one, 429 past the plan's upload size or number of unfinished uploads."""
    upload = await ep.call(request, subjects.SVC_UPLOAD_CREATE)
    return ep.answer(upload, headers={"Location": f"/api/v1/uploads/{upload.id}"})


@api.route(
    "GET",
    "/api/v1/uploads/{id}",
    "Read an upload",
    request=UploadRef,
    permission=Permission.DATASET_READ,
    from_path=UPLOAD,
    response=Upload,
)
async def get_upload(request: web.Request, ep: Endpoint[UploadRef, Upload]) -> web.Response:
    """What was received and what is missing, the import's state, and its problems when it failed."""
    return ep.answer(await ep.call(request, subjects.SVC_UPLOAD_GET))


@api.route(
    "DELETE",
    "/api/v1/uploads/{id}",
    "Abort an upload",
    request=UploadRef,
    permission=Permission.DATASET_MANAGE,
    from_path=UPLOAD,
    response=Upload,
    errors={409},
)
async def abort_upload(request: web.Request, ep: Endpoint[UploadRef, Upload]) -> web.Response:
    """409 once the upload is no longer receiving (importing, completed, failed or expired)."""
    return ep.answer(await ep.call(request, subjects.SVC_UPLOAD_ABORT))


@api.route(
    "POST",
    "/api/v1/uploads/{id}/finalize",
    "Finish an upload and import it",
    request=UploadRef,
    permission=Permission.DATASET_MANAGE,
    from_path=UPLOAD,
    response=Upload,
    status=202,
    also={200: "The upload had already ended (completed, failed or expired)"},
    errors={409},
    links={"PollUpload": Link("get_upload", THE_UPLOAD)},
)
async def finalize_upload(request: web.Request, ep: Endpoint[UploadRef, Upload]) -> web.Response:
    """202 while the import runs (poll GET /api/v1/uploads/{id}); the whole file's sha256 is checked first (422
    when it does not match). 409 while chunks are missing."""
    upload = await ep.call(request, subjects.SVC_UPLOAD_FINALIZE, timeout_s=600)
    return ep.answer(upload, 202 if not upload.state.final else 200)


@api.route(
    "PUT",
    "/api/v1/uploads/{id}/chunks/{index}",
    "Send one chunk",
    request=ChunkTarget,
    permission=Permission.DATASET_MANAGE,
    from_path=CHUNK,
    response=Upload,
    errors={409, 411},
    parameters=(
        {
            "name": CHUNK_SHA_HEADER,
            "in": "header",
            "required": True,
            "description": "the chunk's sha256, 64 hex digits",
            "schema": {"type": "string", "pattern": SHA256},
        },
    ),
    body_content=BINARY,
)
async def put_chunk(request: web.Request, ep: Endpoint[ChunkTarget, Upload]) -> web.Response:
    """The chunk's bytes, exactly as many as the upload's chunk size says (the last one may be shorter). The bytes
    stream to the object store while they are hashed; a chunk whose sha256 differs from the header is refused
    (422) and not recorded, so send it again. Chunks go in any order, and again after a disconnect."""
    claimed = request.headers.get(CHUNK_SHA_HEADER, "")
    if not _SHA256.match(claimed):
        raise _header_error(f"send the chunk's sha256 (64 hex digits) in {CHUNK_SHA_HEADER}")
    target = await ep.payload(request)
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
    return ep.answer(await rpc.call(subjects.SVC_UPLOAD_CHUNK_RECEIVED, principal, received, cid, Upload))
