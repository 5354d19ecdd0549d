"""Object storage over the S3 API (minio SDK): put, get, stat, presigned URLs, list, delete. Large bodies go up
as multipart uploads in `part_size` pieces while their sha256 is computed on the way, so no file is read twice.

The minio SDK is blocking; every call runs in a worker thread so the event loop never waits on S3.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

import urllib3
from minio import Minio
from minio.datatypes import Part
from minio.error import S3Error

from modelyard.runtime.errors import ChecksumMismatch, ObjectNotFound

MIN_PART = 5 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class StoredObject:
    key: str
    size: int
    etag: str | None = None
    sha256: str | None = None
    content_type: str | None = None
    last_modified: datetime | None = None


class _HashingReader(io.RawIOBase):
    """Wraps a stream; hashes and counts what the uploader reads from it."""

    def __init__(self, inner: IO[bytes]) -> None:
        self._inner = inner
        self.sha256 = hashlib.sha256()
        self.size = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        chunk = self._inner.read(size)
        self.sha256.update(chunk)
        self.size += len(chunk)
        return chunk


class ObjectStore:
    def __init__(
        self,
        endpoint: str,
        access_key: str,
        secret_key: str,
        bucket: str,
        *,
        region: str = "us-east-1",
        part_size: int = 16 * 1024 * 1024,
        timeout_s: float = 30.0,
    ) -> None:
        url = urlsplit(endpoint)
        http = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=5.0, read=timeout_s),
            retries=urllib3.Retry(total=3, backoff_factor=0.2, status_forcelist=[500, 502, 503, 504]),
            maxsize=16,
        )
        self._client = Minio(
            url.netloc,
            access_key=access_key,
            secret_key=secret_key,
            secure=url.scheme == "https",
            region=region,
            http_client=http,
        )
        self.bucket = bucket
        self._part_size = max(part_size, MIN_PART)

    async def ensure_bucket(self) -> None:
        def make() -> None:
            if not self._client.bucket_exists(self.bucket):
                try:
                    self._client.make_bucket(self.bucket)
                except S3Error as exc:  # a racing process made it first
                    if exc.code not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                        raise

        await asyncio.to_thread(make)

    async def put(
        self,
        key: str,
        data: bytes | IO[bytes] | Path,
        *,
        content_type: str = "application/octet-stream",
        expected_sha256: str | None = None,
        metadata: dict[str, str] | None = None,
    ) -> StoredObject:
        """Upload; streams of unknown length go up as multipart. A wrong `expected_sha256` leaves nothing behind."""

        def upload() -> StoredObject:
            if isinstance(data, Path):
                with data.open("rb") as fh:
                    return self._upload(key, fh, content_type, metadata)
            return self._upload(key, io.BytesIO(data) if isinstance(data, bytes) else data, content_type, metadata)

        stored = await asyncio.to_thread(upload)
        if expected_sha256 is not None and stored.sha256 != expected_sha256.lower():
            await self.delete(key)
            raise ChecksumMismatch(key=key, expected=expected_sha256, actual=stored.sha256 or "")
        return stored

    def _upload(self, key: str, stream: IO[bytes], content_type: str, metadata: dict[str, str] | None) -> StoredObject:
        reader = _HashingReader(stream)
        result = self._client.put_object(
            self.bucket,
            key,
            reader,  # type: ignore[arg-type]  # minio wants a BinaryIO; it only calls read()
            length=-1,
            part_size=self._part_size,
            content_type=content_type,
            metadata=metadata,  # type: ignore[arg-type]
        )
        return StoredObject(key, reader.size, result.etag, reader.sha256.hexdigest(), content_type)

    async def get(self, key: str) -> bytes:
        def read() -> bytes:
            response = self._translate(self._client.get_object, self.bucket, key)
            try:
                return bytes(response.read())
            finally:
                response.close()
                response.release_conn()

        return await asyncio.to_thread(read)

    async def download(self, key: str, path: Path) -> StoredObject:
        def fetch() -> StoredObject:
            self._translate(self._client.fget_object, self.bucket, key, str(path))
            digest = hashlib.sha256()
            with path.open("rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(block)
            return StoredObject(key, path.stat().st_size, sha256=digest.hexdigest())

        return await asyncio.to_thread(fetch)

    async def stat(self, key: str) -> StoredObject:
        info = await asyncio.to_thread(self._translate, self._client.stat_object, self.bucket, key)
        return StoredObject(key, info.size or 0, info.etag, None, info.content_type, info.last_modified)

    async def exists(self, key: str) -> bool:
        try:
            await self.stat(key)
        except ObjectNotFound:
            return False
        return True

    async def list_objects(self, prefix: str = "") -> list[StoredObject]:
        def collect() -> list[StoredObject]:
            found = self._client.list_objects(self.bucket, prefix=prefix, recursive=True)
            return [StoredObject(o.object_name or "", o.size or 0, o.etag, None, None, o.last_modified) for o in found]

        return await asyncio.to_thread(collect)

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self._client.remove_object, self.bucket, key)

    async def presigned_get(self, key: str, expires: timedelta = timedelta(minutes=15)) -> str:
        return await asyncio.to_thread(self._client.presigned_get_object, self.bucket, key, expires)

    async def presigned_put(self, key: str, expires: timedelta = timedelta(minutes=15)) -> str:
        return await asyncio.to_thread(self._client.presigned_put_object, self.bucket, key, expires)

    # -- client-driven multipart uploads (resumable uploads: parts arrive over time, in any order) ------------
    # minio-py exposes these S3 calls only as underscored methods; they are stable across 7.x.

    async def start_multipart(self, key: str, content_type: str = "application/octet-stream") -> str:
        """A new multipart upload for `key`; returns its upload id."""
        headers = {"Content-Type": content_type}
        upload_id: str = await asyncio.to_thread(
            self._client._create_multipart_upload,
            self.bucket,
            key,
            headers,  # type: ignore[arg-type]
        )
        return upload_id

    async def presigned_part_put(
        self, key: str, upload_id: str, part_number: int, expires: timedelta = timedelta(minutes=15)
    ) -> str:
        """A URL that stores one part (1-based `part_number`) with a plain HTTP PUT; the response's ETag names it."""
        params: dict[str, str | list[str] | tuple[str]] = {"uploadId": upload_id, "partNumber": str(part_number)}
        url: str = await asyncio.to_thread(
            self._client.get_presigned_url, "PUT", self.bucket, key, expires, extra_query_params=params
        )
        return url

    async def complete_multipart(self, key: str, upload_id: str, etags: list[str]) -> str:
        """Join the parts (etags in part order, part 1 first); returns the object's ETag."""
        parts = [Part(number, etag) for number, etag in enumerate(etags, start=1)]
        result = await asyncio.to_thread(
            self._client._complete_multipart_upload,
            self.bucket,
            key,
            upload_id,
            parts,
        )
        return str(result.etag)

    async def abort_multipart(self, key: str, upload_id: str) -> None:
        def abort() -> None:
            try:
                self._client._abort_multipart_upload(self.bucket, key, upload_id)
            except S3Error as exc:
                if exc.code != "NoSuchUpload":
                    raise

        await asyncio.to_thread(abort)

    async def sha256(self, key: str) -> StoredObject:
        """Read the object through once and hash it, without keeping it in memory."""

        def digest() -> StoredObject:
            response = self._translate(self._client.get_object, self.bucket, key)
            hasher, size = hashlib.sha256(), 0
            try:
                for block in response.stream(1 << 20):
                    hasher.update(block)
                    size += len(block)
            finally:
                response.close()
                response.release_conn()
            return StoredObject(key, size, sha256=hasher.hexdigest())

        return await asyncio.to_thread(digest)

    def _translate(self, call: Any, *args: Any) -> Any:
        try:
            return call(*args)
        except S3Error as exc:
            if exc.code in ("NoSuchKey", "NoSuchObject", "ResourceNotFound"):
                raise ObjectNotFound(key=str(args[1])) from exc
            raise
