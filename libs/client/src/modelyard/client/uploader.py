"""Send a file as a resumable upload: chunks in parallel, each with its sha256; run again after an interruption
and only the missing chunks are sent (the upload id is remembered in a small state file beside the stack)."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from uuid import UUID

from modelyard.client.api import ModelyardClient
from modelyard.contracts.api.uploads import Upload, UploadCreate, UploadKind, UploadState

DEFAULT_CHUNK = 16 * 1024 * 1024
Progress = Callable[[int], None]  # called with the bytes just sent


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _read_chunk(path: Path, index: int, chunk_size: int) -> tuple[bytes, str]:
    """The chunk and its sha256, both off the event loop."""
    with path.open("rb") as fh:
        fh.seek(index * chunk_size)
        data = fh.read(chunk_size)
    return data, hashlib.sha256(data).hexdigest()


class ResumeState:
    """Maps (dataset, file content) to the upload that is carrying it."""

    def __init__(self, path: Path | None) -> None:
        self.path = path

    def _load(self) -> dict[str, str]:
        if self.path is None or not self.path.is_file():
            return {}
        loaded: dict[str, str] = json.loads(self.path.read_text())
        return loaded

    def get(self, key: str) -> UUID | None:
        found = self._load().get(key)
        return UUID(found) if found else None

    def put(self, key: str, upload_id: UUID | None) -> None:
        if self.path is None:
            return
        state = self._load()
        if upload_id is None:
            state.pop(key, None)
        else:
            state[key] = str(upload_id)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps(state, indent=2))


async def upload_file(
    api: ModelyardClient,
    path: Path,
    dataset_id: UUID,
    kind: UploadKind,
    *,
    chunk_size: int = DEFAULT_CHUNK,
    parallel: int = 4,
    resume: ResumeState | None = None,
    on_progress: Progress | None = None,
    sha256: str | None = None,
    finalize: bool = True,
    stop_after_chunks: int | None = None,
) -> Upload:
    """Upload (or resume uploading) `path`; finalize and return the upload as the server has it.

    `stop_after_chunks` sends only that many chunks and returns: how tests and demos play a cut connection.
    """
    resume = resume or ResumeState(None)
    sha = sha256 if sha256 is not None else await asyncio.to_thread(file_sha256, path)
    size = (await asyncio.to_thread(path.stat)).st_size
    key = f"{dataset_id}:{sha}"
    upload: Upload | None = None
    known = resume.get(key)
    if known is not None:
        upload = await api.get_upload(known)
        if upload.state is not UploadState.RECEIVING:
            upload = None if upload.state in (UploadState.FAILED, UploadState.EXPIRED) else upload
    if upload is None:
        spec = UploadCreate(
            dataset_id=dataset_id,
            filename=path.name,
            kind=kind,
            size=size,
            sha256=sha,
            chunk_size=chunk_size,
        )
        upload = await api.create_upload(spec)
        resume.put(key, upload.id)
    if upload.state is UploadState.RECEIVING:
        already = upload.received_bytes
        if on_progress and already:
            on_progress(already)
        todo = upload.missing if stop_after_chunks is None else upload.missing[:stop_after_chunks]
        gate = asyncio.Semaphore(parallel)

        async def send(index: int) -> None:
            assert upload is not None
            async with gate:
                data, digest = await asyncio.to_thread(_read_chunk, path, index, upload.chunk_size)
                await api.put_chunk(upload.id, index, data, digest)
            if on_progress:
                on_progress(len(data))

        await asyncio.gather(*(send(i) for i in todo))
        if stop_after_chunks is not None:
            return await api.get_upload(upload.id)
        if finalize:
            upload = await api.finalize_upload(upload.id)
    if upload.state.final:
        resume.put(key, None)
    return upload
