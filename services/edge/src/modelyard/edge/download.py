"""Resumable, bounded downloads of release files. Edge links drop often and models are large, so a transfer keeps
what it received in `<dest>.part` and the next call asks only for the rest (HTTP Range). The declared size and sha256
come from the deployment, never from the server: a server that sends more is cut off before the excess reaches the
disk, and the file only gets its real name once its digest matches, so a half or forged file is never mistaken for
a release. The caller serialises calls for one `dest`; timeouts are the client's."""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Literal

import httpx

DownloadReason = Literal["too_long", "checksum", "http", "short"]

_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+|\*)")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_HASH_BLOCK = 1 << 20


class DownloadError(Exception):
    """Any failed download; `reason` is short and machine-readable, for metrics and the deployment's report."""

    def __init__(self, reason: DownloadReason, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason: DownloadReason = reason
        self.detail = detail


class DownloadTooLong(DownloadError):
    """The server sent (or announced) more than the declared size. The .part is deleted: its bytes are suspect."""

    def __init__(self, url: str, size: int) -> None:
        super().__init__("too_long", f"{url} sent more than the declared {size} bytes")
        self.url = url
        self.size = size


class ChecksumMismatch(DownloadError):
    """The complete file has another sha256. The .part is deleted, so the next attempt starts from zero."""

    def __init__(self, url: str, expected: str, actual: str) -> None:
        super().__init__("checksum", f"{url}: sha256 {actual}, expected {expected}")
        self.url = url
        self.expected = expected
        self.actual = actual


class HttpFailed(DownloadError):
    """The exchange failed: an unexpected status (`status`), or a transport error such as a cut connection or a
    timeout (`status` None). What arrived is kept in the .part; calling again resumes."""

    def __init__(self, url: str, status: int | None, detail: str) -> None:
        super().__init__("http", f"{url}: {detail}")
        self.url = url
        self.status = status


class ShortDownload(DownloadError):
    """The server ended the body cleanly before the declared size. What arrived is kept; calling again resumes."""

    def __init__(self, url: str, have: int, size: int) -> None:
        super().__init__("short", f"{url} ended after {have} of {size} bytes")
        self.url = url
        self.have = have
        self.size = size


@dataclass(frozen=True)
class DownloadResult:
    """`bytes_fetched`: body bytes this call took from the network. `resumed_from`: the offset the final transfer
    started at (0 when it started over; `size` when the file was already complete and nothing was requested)."""

    path: Path
    bytes_fetched: int
    resumed_from: int


def part_path(dest: Path) -> Path:
    """Where the unfinished download of `dest` lives, beside it so the final rename stays on one filesystem."""
    return dest.with_name(dest.name + ".part")


async def fetch(
    client: httpx.AsyncClient, url: str, dest: Path, *, size: int, sha256: str, chunk: int = 1 << 20
) -> DownloadResult:
    """Make `dest` hold exactly the `size` bytes whose digest is `sha256`, fetching from `url` only what is missing.

    `chunk` is how many received bytes are gathered before a disk write; bytes are never held back across a
    failure, so a cut connection loses nothing that arrived."""
    expected = sha256.lower()
    if not _SHA256.fullmatch(expected):
        raise ValueError(f"sha256 must be 64 hex digits, got {sha256!r}")
    if size < 0 or chunk < 1:
        raise ValueError("size must be >= 0 and chunk >= 1")
    if await asyncio.to_thread(_holds, dest, size, expected):
        return DownloadResult(dest, 0, size)
    part = part_path(dest)
    have = await asyncio.to_thread(_usable_part, part, size)
    if have == size:
        if await asyncio.to_thread(_holds, part, size, expected):
            await asyncio.to_thread(_commit, part, dest)
            return DownloadResult(dest, 0, size)
        # A full-length leftover with the wrong digest (another file, an older release): nothing in it can be
        # trusted, and there is nothing left to request beyond it.
        await asyncio.to_thread(part.unlink, True)
        have = 0
    try:
        start, fetched = await _transfer(client, url, part, have, size, chunk)
    except DownloadTooLong:
        await asyncio.to_thread(part.unlink, True)
        raise
    if start + fetched < size:
        raise ShortDownload(url, start + fetched, size)
    actual = await asyncio.to_thread(_sha256_of, part)
    if actual != expected:
        await asyncio.to_thread(part.unlink, True)
        raise ChecksumMismatch(url, expected, actual)
    await asyncio.to_thread(_commit, part, dest)
    return DownloadResult(dest, fetched, start)


async def _transfer(
    client: httpx.AsyncClient, url: str, part: Path, have: int, size: int, chunk: int
) -> tuple[int, int]:
    """Request the missing range and append it to `part`; returns (offset the body started at, bytes received).
    A 416 to a range request means the leftover does not fit the server's file: drop it and ask for everything."""
    for _ in range(2):
        # identity: Range offsets and the digest are over the stored bytes, not a compressed transfer encoding
        headers = {"Accept-Encoding": "identity"}
        if have:
            headers["Range"] = f"bytes={have}-"
        try:
            async with client.stream("GET", url, headers=headers) as response:
                if have and response.status_code == httpx.codes.REQUESTED_RANGE_NOT_SATISFIABLE:
                    await asyncio.to_thread(part.unlink, True)
                    have = 0
                    continue
                start = _body_offset(url, response, have, size)
                return start, await _receive(url, response, part, start, size, chunk)
        except httpx.HTTPError as exc:
            raise HttpFailed(url, None, f"{type(exc).__name__}: {exc}") from exc
    raise HttpFailed(url, httpx.codes.REQUESTED_RANGE_NOT_SATISFIABLE, "range not satisfiable on a full request")


def _body_offset(url: str, response: httpx.Response, have: int, size: int) -> int:
    """Where the response body starts in the file, refusing early what its headers already show to be too long."""
    status = response.status_code
    if status == httpx.codes.OK:
        start = 0  # a server without Range support (or one that chose to ignore it) sends the whole file: restart
    elif status == httpx.codes.PARTIAL_CONTENT:
        match = _CONTENT_RANGE.fullmatch(response.headers.get("content-range", "").strip())
        if match is None or int(match.group(1)) != have:
            raise HttpFailed(url, status, f"206 with Content-Range {response.headers.get('content-range')!r}")
        if match.group(3) != "*" and int(match.group(3)) > size:
            raise DownloadTooLong(url, size)
        start = have
    else:
        raise HttpFailed(url, status, f"HTTP {status}")
    length = response.headers.get("content-length", "")
    if length.isdigit() and start + int(length) > size:
        raise DownloadTooLong(url, size)
    return start


async def _receive(url: str, response: httpx.Response, part: Path, start: int, size: int, chunk: int) -> int:
    """Append the body to `part` (truncated first when `start` is 0), never past `size` bytes in all. Whatever
    arrived before a failure is written before the failure propagates, so the next call resumes after it."""
    limit = size - start
    received = 0
    pending: list[bytes] = []
    pending_len = 0
    out = await asyncio.to_thread(_open_part, part, start > 0)
    try:
        try:
            async for piece in response.aiter_raw():
                if received + len(piece) > limit:
                    raise DownloadTooLong(url, size)
                received += len(piece)
                pending.append(piece)
                pending_len += len(piece)
                if pending_len >= chunk:
                    await asyncio.to_thread(out.write, b"".join(pending))
                    pending.clear()
                    pending_len = 0
        finally:
            if pending:
                await asyncio.to_thread(out.write, b"".join(pending))
    finally:
        await asyncio.to_thread(_close_synced, out)
    return received


def _open_part(part: Path, append: bool) -> BinaryIO:
    part.parent.mkdir(parents=True, exist_ok=True)
    return part.open("ab" if append else "wb")


def _close_synced(out: BinaryIO) -> None:
    """fsync before closing: on power loss the .part must not claim bytes the disk never got."""
    try:
        out.flush()
        os.fsync(out.fileno())
    finally:
        out.close()


def _usable_part(part: Path, size: int) -> int:
    """Bytes of a leftover .part worth keeping; one longer than the file cannot be a prefix of it."""
    try:
        have = part.stat().st_size
    except FileNotFoundError:
        return 0
    if have > size:
        part.unlink()
        return 0
    return have


def _holds(path: Path, size: int, sha256: str) -> bool:
    try:
        if path.stat().st_size != size:
            return False
    except FileNotFoundError:
        return False
    return _sha256_of(path) == sha256


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(_HASH_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def _commit(part: Path, dest: Path) -> None:
    """Atomic rename, then fsync the directory so the new name survives a power cut."""
    os.replace(part, dest)
    fd = os.open(dest.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
