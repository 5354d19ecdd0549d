"""Resumable uploads and the three imports, through the gateway, against the real servers."""

from __future__ import annotations

import hashlib
import io
import json
import os
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from modelyard.client import synthetic
from modelyard.client.api import ApiError, ModelyardClient
from modelyard.client.uploader import ResumeState, file_sha256, upload_file
from modelyard.contracts.api.datasets import Dataset, DatasetCreate, Task
from modelyard.contracts.api.uploads import UploadKind, UploadState
from modelyard.dataset.deps import Deps
from modelyard.dataset.sweeper import expire_uploads
from modelyard.runtime.db import open_pool

from .conftest import Platform

MIB = 1024 * 1024
PROBLEM = "application/problem+json"


async def _dataset(api: ModelyardClient, task: Task = Task.DETECT, name: str = "cams") -> Dataset:
    return await api.create_dataset(DatasetCreate(name=name, task=task))


async def test_yolo_detect_zip_imports_its_images_and_labels(platform: Platform, tmp_path: Path) -> None:
    archive = synthetic.detect_zip(tmp_path / "cars.zip", train=6, val=2)
    async with platform.client() as api:
        dataset = await _dataset(api)
        upload = await upload_file(api, archive, dataset.id, UploadKind.YOLO_ZIP, chunk_size=5 * MIB)
        assert upload.state is UploadState.IMPORTING
        done = await api.wait_upload(upload.id)
        assert done.state is UploadState.COMPLETED, done.error
        assert done.imported_samples == 8
        samples = await api.list_samples(dataset.id, limit=100)
        after = await api.get_dataset(dataset.id)
    assert samples.total == 8 and after.sample_count == 8
    assert after.class_names == ["car", "bus"]  # adopted from data.yaml
    assert {s.split.value for s in samples.samples if s.split} == {"train", "val"}
    assert all(s.labels.boxes and s.status.value == "labeled" for s in samples.samples)
    assert all(s.metadata.width == 64 and s.quality is not None for s in samples.samples)


async def test_same_images_uploaded_twice_are_stored_once(platform: Platform, tmp_path: Path) -> None:
    archive = synthetic.detect_zip(tmp_path / "cars.zip", train=3, val=1)
    async with platform.client() as api:
        dataset = await _dataset(api)
        first = await api.wait_upload((await upload_file(api, archive, dataset.id, UploadKind.YOLO_ZIP)).id)
        second = await api.wait_upload((await upload_file(api, archive, dataset.id, UploadKind.YOLO_ZIP)).id)
        assert (first.imported_samples, second.imported_samples, second.skipped_samples) == (4, 0, 4)
        assert (await api.get_dataset(dataset.id)).sample_count == 4


async def test_twenty_mb_upload_cut_halfway_resumes_with_only_the_missing_chunks(
    platform: Platform, tmp_path: Path
) -> None:
    """The connection drops after half the chunks; the services restart; the client runs again and sends only
    what is missing; the whole file's sha256 is checked and the import completes."""
    archive = synthetic.bulk_detect_zip(tmp_path / "big.zip", 20 * MIB, side=512)
    size = archive.stat().st_size
    assert size >= 19 * MIB
    state = ResumeState(tmp_path / "uploads.json")
    sent: list[int] = []
    async with platform.client() as api:
        dataset = await _dataset(api)
        partial = await upload_file(
            api,
            archive,
            dataset.id,
            UploadKind.YOLO_ZIP,
            chunk_size=5 * MIB,
            resume=state,
            on_progress=sent.append,
            stop_after_chunks=2,
        )
    assert partial.state is UploadState.RECEIVING
    assert len(partial.received) == 2 and len(partial.missing) == partial.chunk_count - 2

    await platform.restart()  # gateway and dataset service go down between chunks and come back

    resent: list[int] = []
    async with platform.client() as api:
        status = await api.get_upload(partial.id)
        assert status.received == partial.received  # the server remembers what it has
        final = await upload_file(
            api, archive, dataset.id, UploadKind.YOLO_ZIP, chunk_size=5 * MIB, resume=state, on_progress=resent.append
        )
        assert final.id == partial.id
        done = await api.wait_upload(final.id, timeout_s=120)
    assert done.state is UploadState.COMPLETED, done.error
    assert sum(sent) == 10 * MIB
    # the resumed run reports what was already there once, then sends only the missing bytes
    assert resent[0] == 10 * MIB and sum(resent[1:]) == size - 10 * MIB
    assert done.sha256 == file_sha256(archive)


async def test_a_chunk_with_the_wrong_sha256_is_refused_and_not_recorded(platform: Platform, tmp_path: Path) -> None:
    body = os.urandom(6 * MIB)
    path = tmp_path / "f.zip"
    path.write_bytes(body)
    async with platform.client() as api:
        dataset = await _dataset(api)
        upload = await upload_file(api, path, dataset.id, UploadKind.YOLO_ZIP, chunk_size=5 * MIB, stop_after_chunks=0)
    url = f"{platform.url}/api/v1/uploads/{upload.id}/chunks/0"
    headers = platform.auth() | {"X-Chunk-Sha256": hashlib.sha256(b"something else").hexdigest()}
    async with platform.http.put(url, data=io.BytesIO(body[: 5 * MIB]), headers=headers) as r:
        assert r.status == 422 and r.content_type == PROBLEM
        problem = await r.json()
        assert problem["errors"][0]["field"] == "X-Chunk-Sha256"
    async with platform.http.put(url, data=io.BytesIO(body[: 5 * MIB]), headers=platform.auth()) as r:
        assert r.status == 422  # no header at all
    async with platform.http.put(
        url, data=body[:100], headers=platform.auth() | {"X-Chunk-Sha256": hashlib.sha256(body[:100]).hexdigest()}
    ) as r:
        assert r.status == 422 and "must be" in (await r.json())["detail"]  # wrong size for chunk 0
    async with platform.client() as api:
        assert (await api.get_upload(upload.id)).received == []
        # a good chunk, sent twice, is fine
        await api.put_chunk(upload.id, 0, body[: 5 * MIB])
        again = await api.put_chunk(upload.id, 0, body[: 5 * MIB])
        assert again.received == [0] and again.missing == [1]
        with pytest.raises(ApiError) as missing:
            await api.finalize_upload(upload.id)
        assert missing.value.problem.status == 409 and "1 chunk(s) missing" in (missing.value.problem.detail or "")


async def test_whole_file_hash_mismatch_fails_the_upload_and_keeps_nothing(platform: Platform, tmp_path: Path) -> None:
    """Every chunk matched its own sha256, but the joined file is not the one announced at create."""
    path = synthetic.detect_zip(tmp_path / "a.zip", train=2, val=0)
    async with platform.client() as api:
        dataset = await _dataset(api)
        wrong = hashlib.sha256(b"not this file").hexdigest()
        upload = await upload_file(api, path, dataset.id, UploadKind.YOLO_ZIP, sha256=wrong)
        assert upload.state is UploadState.IMPORTING  # 202: the check runs as the import reads the file
        after = await api.wait_upload(upload.id)
        assert after.state is UploadState.FAILED
        assert f"sha256 is {file_sha256(path)}" in (after.error or "")
        assert (await api.get_dataset(dataset.id)).sample_count == 0


def _zip(path: Path, files: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return path


def _png() -> bytes:
    out = io.BytesIO()
    from PIL import Image

    Image.new("RGB", (16, 16), (1, 2, 3)).save(out, format="PNG")
    return out.getvalue()


YAML = b"names: ['car', 'bus']\ntrain: images/train\nval: images/val\n"


@pytest.mark.parametrize(
    ("files", "expect"),
    [
        ({"data.yaml": YAML, "images/train/a.png": _png(), "labels/train/a.txt": b"7 0.5 0.5 0.1 0.1\n"}, "a.txt"),
        ({"data.yaml": YAML, "images/train/a.png": b"not an image", "labels/train/a.txt": b""}, "not an image"),
        ({"data.yaml": YAML, "images/train/a.png": _png(), "../../evil.txt": b"x"}, "evil"),
    ],
    ids=["label-outside-class-list", "not-an-image", "zip-slip"],
)
async def test_a_bad_archive_fails_the_upload_with_the_reason_and_stores_nothing(
    platform: Platform, tmp_path: Path, files: dict[str, bytes], expect: str
) -> None:
    path = _zip(tmp_path / "bad.zip", files)
    async with platform.client() as api:
        dataset = await _dataset(api)
        done = await api.wait_upload((await upload_file(api, path, dataset.id, UploadKind.YOLO_ZIP)).id)
        assert done.state is UploadState.FAILED
        assert expect in json.dumps(done.problems) + (done.error or "")
        assert (await api.get_dataset(dataset.id)).sample_count == 0
    async with open_pool(platform.database_url, "dataset") as pool:
        assert await pool.fetchval("SELECT count(*) FROM samples") == 0


async def test_zip_bomb_is_refused(platform: Platform, tmp_path: Path) -> None:
    path = tmp_path / "bomb.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("data.yaml", YAML)
        zf.writestr("images/train/zeros.png", b"\0" * (40 * MIB))  # compresses about 1000:1
    async with platform.client() as api:
        dataset = await _dataset(api)
        done = await api.wait_upload((await upload_file(api, path, dataset.id, UploadKind.YOLO_ZIP)).id)
    assert done.state is UploadState.FAILED
    assert "compresses 1029:1, more than the limit" in (done.error or "")


async def test_frame_ratings_import_and_out_of_range_rating_is_refused(platform: Platform, tmp_path: Path) -> None:
    good = synthetic.ratings_zip(tmp_path / "ratings.zip", frames=5)
    async with platform.client() as api:
        dataset = await _dataset(api, Task.REGRESS, "frames")
        done = await api.wait_upload((await upload_file(api, good, dataset.id, UploadKind.ANNOTATIONS_JSONL)).id)
        assert done.state is UploadState.COMPLETED, done.problems
        stats = await api.dataset_stats(dataset.id)
        assert stats.samples == 5 and stats.rated == 5 and stats.average_rating is not None
        assert stats.first_captured_at is not None and stats.first_captured_at < (
            stats.last_captured_at or datetime.max.replace(tzinfo=UTC)
        )

        bad = tmp_path / "bad.jsonl"
        bad.write_text(json.dumps({"frame_path": "frames/frame000.png", "rating": 1.5}) + "\n")
        failed = await api.wait_upload((await upload_file(api, bad, dataset.id, UploadKind.ANNOTATIONS_JSONL)).id)
        assert failed.state is UploadState.FAILED
        assert failed.problems[0]["line"] == 1 and "1.5" in failed.problems[0]["message"]

        # a rating for a frame the dataset already holds updates it
        update = tmp_path / "update.jsonl"
        update.write_text(json.dumps({"frame_path": "frame000.png", "rating": 0.25}) + "\n")
        ok = await api.wait_upload((await upload_file(api, update, dataset.id, UploadKind.ANNOTATIONS_JSONL)).id)
        assert ok.state is UploadState.COMPLETED, ok.problems
        ratings = [
            s.rating
            for s in (await api.list_samples(dataset.id)).samples
            if s.metadata.source_path == "frames/frame000.png"
        ]
        assert ratings == [0.25]


async def test_csv_series_import(platform: Platform, tmp_path: Path) -> None:
    path = synthetic.series_csv(tmp_path / "load.csv", rows=50)
    async with platform.client() as api:
        dataset = await _dataset(api, Task.FORECAST, "load")
        done = await api.wait_upload((await upload_file(api, path, dataset.id, UploadKind.CSV_SERIES)).id)
        assert done.state is UploadState.COMPLETED, done.problems
        [sample] = (await api.list_samples(dataset.id)).samples
        assert sample.kind.value == "series" and sample.media_type == "text/csv"

        bad = tmp_path / "bad.csv"
        bad.write_text("timestamp,value\n2026-01-01T00:00:00Z,1\n2026-01-01T00:01:00Z,abc\n")
        failed = await api.wait_upload((await upload_file(api, bad, dataset.id, UploadKind.CSV_SERIES)).id)
        assert failed.state is UploadState.FAILED and failed.problems[0]["line"] == 3


async def test_upload_over_the_plan_limit_is_refused_before_anything_is_stored(platform: Platform) -> None:
    async with platform.client() as api:
        dataset = await _dataset(api)
    body = {
        "dataset_id": str(dataset.id),
        "filename": "huge.zip",
        "kind": "yolo_zip",
        "size": 3 * 1024**3,
        "sha256": "0" * 64,
        "chunk_size": 64 * MIB,
    }
    async with platform.http.post(f"{platform.url}/api/v1/uploads", json=body, headers=platform.auth()) as r:
        assert r.status == 429 and "free plan" in (await r.json())["detail"]
    for field, value in (("kind", "tarball"), ("sha256", "xyz"), ("chunk_size", 1024), ("filename", "../x")):
        async with platform.http.post(
            f"{platform.url}/api/v1/uploads", json=body | {"size": 10, field: value}, headers=platform.auth()
        ) as r:
            assert r.status == 422, field
            assert field in [e["field"] for e in (await r.json())["errors"]]


async def test_unfinished_uploads_expire_and_their_parts_are_freed(platform: Platform, tmp_path: Path) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(os.urandom(11 * MIB))
    async with platform.client() as api:
        dataset = await _dataset(api)
        upload = await upload_file(api, path, dataset.id, UploadKind.YOLO_ZIP, chunk_size=5 * MIB, stop_after_chunks=1)
    async with open_pool(platform.database_url, "dataset") as pool:
        from modelyard.dataset.app import object_store

        deps = Deps(platform.dataset_settings, pool, object_store(platform.dataset_settings))
        assert await expire_uploads(deps) == 0  # not yet due
        assert await expire_uploads(deps, datetime.now(UTC) + timedelta(days=2)) == 1
    async with platform.client() as api:
        expired = await api.get_upload(upload.id)
        assert expired.state is UploadState.EXPIRED
        with pytest.raises(ApiError) as gone:
            await api.put_chunk(upload.id, 1, path.read_bytes()[5 * MIB : 10 * MIB])
        assert gone.value.problem.status == 409
