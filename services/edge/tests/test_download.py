"""Downloads against a real HTTP server on loopback: one that honours Range, can cut the connection mid-body, ignore
Range, send too much or send altered bytes, and counts every body byte it writes, so resumption is measured on the
wire rather than inferred from the client."""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from aiohttp import web

from modelyard.edge.download import (
    ChecksumMismatch,
    DownloadError,
    DownloadTooLong,
    HttpFailed,
    ShortDownload,
    fetch,
    part_path,
)

# An odd size, so the cut lands in no convenient multiple of any buffer.
SIZE = 3 * 1024 * 1024 + 12_345
PAYLOAD = os.urandom(SIZE)
SHA256 = hashlib.sha256(PAYLOAD).hexdigest()
WRITE = 64 * 1024
ENDLESS_CAP = 100 * SIZE


@dataclass
class FileServer:
    """Serves `body` at /model.onnx. `cut_after`: the next response stops after that many body bytes and the
    connection is closed (one-shot). `ignore_range`: answer every request 200 with the whole body. `chunked`: send
    no Content-Length. `endless`: a chunked body that never ends, until the client hangs up (or a safety cap).
    `served`: body bytes written, over all requests."""

    body: bytes = PAYLOAD
    cut_after: int | None = None
    ignore_range: bool = False
    chunked: bool = False
    endless: bool = False
    served: int = 0
    ranges: list[str | None] = field(default_factory=list)
    url: str = ""

    async def handle(self, request: web.Request) -> web.StreamResponse:
        header = request.headers.get("Range")
        self.ranges.append(header)
        start = 0
        if header and not self.ignore_range:
            start = int(header.removeprefix("bytes=").removesuffix("-"))
            if start >= len(self.body):
                return web.Response(status=416, headers={"Content-Range": f"bytes */{len(self.body)}"})
        piece = self.body[start:]
        response = web.StreamResponse(status=206 if start else 200)
        if start:
            response.headers["Content-Range"] = f"bytes {start}-{len(self.body) - 1}/{len(self.body)}"
        if self.chunked or self.endless:
            response.enable_chunked_encoding()
        else:
            response.content_length = len(piece)
        await response.prepare(request)
        if self.endless:
            return await self._flood(response)
        cut, self.cut_after = self.cut_after, None
        end = len(piece) if cut is None else min(cut, len(piece))
        for offset in range(0, end, WRITE):
            data = piece[offset : min(offset + WRITE, end)]
            await response.write(data)
            self.served += len(data)
        if cut is not None:
            assert request.transport is not None
            request.transport.close()
            return response
        await response.write_eof()
        return response

    async def _flood(self, response: web.StreamResponse) -> web.StreamResponse:
        try:
            while self.served < ENDLESS_CAP:
                await response.write(self.body[:WRITE])
                self.served += WRITE
        except ConnectionError:
            pass  # the client hung up: what the test wants
        return response


@pytest.fixture
async def server() -> AsyncIterator[FileServer]:
    files = FileServer()
    app = web.Application()
    app.router.add_get("/model.onnx", files.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    files.url = f"http://{host}:{port}/model.onnx"
    try:
        yield files
    finally:
        await runner.cleanup()


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as http:
        yield http


async def test_download_cut_at_half_resumes_and_resends_under_five_percent(
    server: FileServer, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    dest = tmp_path / "model.onnx"
    server.cut_after = SIZE // 2

    with pytest.raises(HttpFailed) as cut:
        await fetch(client, server.url, dest, size=SIZE, sha256=SHA256)
    assert cut.value.reason == "http"
    assert not dest.exists()
    kept = part_path(dest).stat().st_size
    assert kept == SIZE // 2

    result = await fetch(client, server.url, dest, size=SIZE, sha256=SHA256)

    resent = server.served - SIZE
    print(f"served {server.served} bytes for a {SIZE}-byte file: re-sent {resent} ({resent / SIZE:.2%})")  # noqa: T201
    assert resent <= SIZE * 0.05
    assert server.ranges == [None, f"bytes={kept}-"]
    assert result.resumed_from == kept and result.bytes_fetched == SIZE - kept
    assert dest.read_bytes() == PAYLOAD
    assert not part_path(dest).exists()


async def test_complete_file_with_right_digest_is_not_downloaded_again(
    server: FileServer, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    dest = tmp_path / "model.onnx"
    await fetch(client, server.url, dest, size=SIZE, sha256=SHA256)
    served = server.served

    result = await fetch(client, server.url, dest, size=SIZE, sha256=SHA256)

    assert server.served == served and len(server.ranges) == 1
    assert result.bytes_fetched == 0 and result.path == dest


async def test_body_longer_than_declared_is_refused_and_nothing_kept(
    server: FileServer, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    dest = tmp_path / "model.onnx"
    server.body = PAYLOAD + b"more than was declared"

    with pytest.raises(DownloadTooLong) as refused:
        await fetch(client, server.url, dest, size=SIZE, sha256=SHA256)

    assert refused.value.reason == "too_long"
    assert not dest.exists() and not part_path(dest).exists()


async def test_endless_body_is_cut_off_once_it_passes_the_declared_size(
    server: FileServer, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    """Without a Content-Length the excess shows only in the stream: the client must hang up there (not read on
    until the server stops) and keep nothing."""
    dest = tmp_path / "model.onnx"
    server.endless = True

    with pytest.raises(DownloadTooLong):
        await fetch(client, server.url, dest, size=SIZE, sha256=SHA256)

    assert not dest.exists() and not part_path(dest).exists()
    assert server.served < 10 * SIZE  # what loopback socket buffers hold; the cap is 100x


async def test_tampered_bytes_are_refused_and_the_part_deleted(
    server: FileServer, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    dest = tmp_path / "model.onnx"
    tampered = bytearray(PAYLOAD)
    tampered[SIZE // 3] ^= 0x01
    server.body = bytes(tampered)

    with pytest.raises(ChecksumMismatch) as refused:
        await fetch(client, server.url, dest, size=SIZE, sha256=SHA256)

    assert refused.value.reason == "checksum" and refused.value.actual == hashlib.sha256(tampered).hexdigest()
    assert not dest.exists() and not part_path(dest).exists()


async def test_server_ignoring_range_restarts_cleanly_from_zero(
    server: FileServer, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    dest = tmp_path / "model.onnx"
    server.ignore_range = True
    server.cut_after = SIZE // 2
    with pytest.raises(HttpFailed):
        await fetch(client, server.url, dest, size=SIZE, sha256=SHA256)

    result = await fetch(client, server.url, dest, size=SIZE, sha256=SHA256)

    assert server.ranges[1] == f"bytes={SIZE // 2}-"  # asked to resume, got the whole file
    assert result.resumed_from == 0 and result.bytes_fetched == SIZE
    assert dest.read_bytes() == PAYLOAD


async def test_body_ending_early_is_short_and_resumable(
    server: FileServer, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    dest = tmp_path / "model.onnx"
    server.body = PAYLOAD[:1000]
    with pytest.raises(ShortDownload) as short:
        await fetch(client, server.url, dest, size=SIZE, sha256=SHA256)
    assert short.value.reason == "short" and part_path(dest).stat().st_size == 1000

    server.body = PAYLOAD
    result = await fetch(client, server.url, dest, size=SIZE, sha256=SHA256)

    assert result.resumed_from == 1000 and dest.read_bytes() == PAYLOAD


async def test_leftover_part_the_server_cannot_continue_is_dropped(
    server: FileServer, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    """A stale .part at least as long as the server's file: the server answers 416, the client drops the leftover
    and asks for everything (which here is shorter than declared, so the result is short, holding the server's
    bytes rather than the stale ones)."""
    dest = tmp_path / "model.onnx"
    server.body = PAYLOAD[: SIZE // 2]
    part_path(dest).write_bytes(os.urandom(SIZE // 2 + 10))

    with pytest.raises(ShortDownload):
        await fetch(client, server.url, dest, size=SIZE, sha256=SHA256)

    assert server.ranges == [f"bytes={SIZE // 2 + 10}-", None]
    assert part_path(dest).read_bytes() == server.body


async def test_http_error_status_is_reported_with_its_code(client: httpx.AsyncClient, tmp_path: Path) -> None:
    app = web.Application()
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        with pytest.raises(DownloadError) as failed:
            await fetch(client, f"http://{host}:{port}/missing", tmp_path / "m", size=1, sha256=SHA256)
    finally:
        await runner.cleanup()
    assert failed.value.reason == "http"
    assert isinstance(failed.value, HttpFailed) and failed.value.status == 404
