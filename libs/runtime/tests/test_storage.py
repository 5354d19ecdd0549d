import hashlib
import os
import urllib.request

import pytest

from modelyard.runtime.errors import ChecksumMismatch, ObjectNotFound
from modelyard.runtime.storage import ObjectStore


async def test_put_get_stat_list_delete(object_store: ObjectStore) -> None:
    stored = await object_store.put("a/b.txt", b"hello", content_type="text/plain")
    assert stored.sha256 == hashlib.sha256(b"hello").hexdigest() and stored.size == 5
    assert await object_store.get("a/b.txt") == b"hello"
    info = await object_store.stat("a/b.txt")
    assert info.size == 5 and info.content_type == "text/plain"
    assert [o.key for o in await object_store.list_objects("a/")] == ["a/b.txt"]
    await object_store.delete("a/b.txt")
    assert not await object_store.exists("a/b.txt")
    with pytest.raises(ObjectNotFound):
        await object_store.get("a/b.txt")


async def test_large_body_goes_up_in_parts_with_its_sha256_computed_on_the_way(object_store: ObjectStore) -> None:
    body = os.urandom(12 * 1024 * 1024 + 17)  # three 5 MiB parts
    stored = await object_store.put("big.bin", body)
    assert stored.sha256 == hashlib.sha256(body).hexdigest()
    assert stored.etag is not None and stored.etag.endswith("-3"), stored.etag  # a multipart ETag names its parts
    assert (await object_store.stat("big.bin")).size == len(body)
    assert await object_store.get("big.bin") == body


async def test_wrong_expected_sha256_stores_nothing(object_store: ObjectStore) -> None:
    with pytest.raises(ChecksumMismatch):
        await object_store.put("x.bin", b"data", expected_sha256="0" * 64)
    assert not await object_store.exists("x.bin")


async def test_presigned_get_url_downloads_without_credentials(object_store: ObjectStore) -> None:
    await object_store.put("model.onnx", b"weights")
    url = await object_store.presigned_get("model.onnx")
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - loopback test server
        assert response.read() == b"weights"


async def test_presigned_put_url_uploads(object_store: ObjectStore) -> None:
    url = await object_store.presigned_put("upload.bin")
    request = urllib.request.Request(url, data=b"payload", method="PUT")  # noqa: S310 - loopback test server
    with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
        assert response.status == 200
    assert await object_store.get("upload.bin") == b"payload"


async def test_parts_put_through_presigned_urls_in_any_order_join_into_one_object(object_store: ObjectStore) -> None:
    """The resumable-upload path: parts arrive out of order (and one twice) through plain HTTP PUTs."""
    parts = [os.urandom(5 * 1024 * 1024), os.urandom(5 * 1024 * 1024), b"tail"]
    upload_id = await object_store.start_multipart("joined.bin")
    etags: dict[int, str] = {}
    for number in (3, 1, 2, 1):
        url = await object_store.presigned_part_put("joined.bin", upload_id, number)
        request = urllib.request.Request(url, data=parts[number - 1], method="PUT")  # noqa: S310 - loopback
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            etags[number] = response.headers["ETag"].strip('"')
    await object_store.complete_multipart("joined.bin", upload_id, [etags[1], etags[2], etags[3]])
    whole = b"".join(parts)
    assert (await object_store.sha256("joined.bin")).sha256 == hashlib.sha256(whole).hexdigest()


async def test_an_aborted_multipart_upload_leaves_no_object(object_store: ObjectStore) -> None:
    upload_id = await object_store.start_multipart("never.bin")
    await object_store.abort_multipart("never.bin", upload_id)
    await object_store.abort_multipart("never.bin", upload_id)  # twice is fine
    assert not await object_store.exists("never.bin")
