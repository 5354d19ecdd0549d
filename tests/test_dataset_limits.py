"""The plan's dataset-size limit (`max_dataset_bytes`) and the audit records of import outcomes, against the real
servers: refused at upload creation with the declared size (enterprise plan, its real 10 GiB limit, asked over NATS
RPC since the gateway's only org is on the free plan; the services trust the plan the principal carries), refused by
the importer with the real sizes (a small zip of highly compressible images; the free plan's limit lowered in this
process, where the services run), and `upload.completed` / `upload.failed` in the audit trail, by the user who
finalized the upload."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import io
import time
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from modelyard.client import synthetic
from modelyard.client.api import ModelyardClient
from modelyard.client.uploader import upload_file
from modelyard.contracts import plans, subjects
from modelyard.contracts.api.audit import AuditEvent, AuditList
from modelyard.contracts.api.datasets import Dataset, DatasetCreate, Task
from modelyard.contracts.api.identity import Principal, Role
from modelyard.contracts.api.uploads import Upload, UploadCreate, UploadKind, UploadRef, UploadState
from modelyard.contracts.plans import GIB, Plan
from modelyard.contracts.storage import blob_key
from modelyard.dataset.app import object_store
from modelyard.dataset.errors import human_bytes
from modelyard.runtime.db import open_pool
from modelyard.runtime.rpc import RemoteProblem, RpcClient

from .conftest import Platform
from .rpc_support import services_rpc

PROBLEM = "application/problem+json"
SIDE = 64  # a 64x64 RGB PNG without compression: 12 KiB and a bit, which the zip deflates to almost nothing


def _flat_png(shade: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (SIDE, SIDE), (shade, 2, 3)).save(out, format="PNG", compress_level=0)
    return out.getvalue()


def _flat_zip(path: Path, count: int, class_id: int = 0) -> tuple[Path, list[bytes]]:
    """A YOLO detect zip of `count` flat images (classes car and bus, each image one box of `class_id`): small to
    upload, `count` x 12 KiB once imported."""
    images = [_flat_png(10 + i) for i in range(count)]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("data.yaml", "names: ['car', 'bus']\ntrain: images/train\nval: images/train\n")
        for i, data in enumerate(images):
            zf.writestr(f"images/train/{i}.png", data)
            zf.writestr(f"labels/train/{i}.txt", f"{class_id} 0.5 0.5 0.2 0.2\n")
    return path, images


async def _stored_bytes(platform: Platform, dataset_id: object) -> int:
    async with open_pool(platform.database_url, "dataset") as pool:
        return int(await pool.fetchval("SELECT COALESCE(sum(size), 0) FROM samples WHERE dataset_id = $1", dataset_id))


async def _uploads_of(platform: Platform, dataset_id: object) -> int:
    async with open_pool(platform.database_url, "dataset") as pool:
        return int(await pool.fetchval("SELECT count(*) FROM uploads WHERE dataset_id = $1", dataset_id))


async def _dataset(api: ModelyardClient, name: str) -> Dataset:
    return await api.create_dataset(DatasetCreate(name=name, task=Task.DETECT))


class _Rpc:
    def __init__(self, rpc: RpcClient) -> None:
        self.rpc = rpc

    async def create(self, principal: Principal, dataset_id: object, size: int) -> Upload:
        spec = UploadCreate.model_validate(
            {
                "dataset_id": dataset_id,
                "filename": "big.zip",
                "kind": "yolo_zip",
                "size": size,
                "sha256": "0" * 64,
                "chunk_size": 512 * 1024**2,
            }
        )
        return await self.rpc.call(subjects.SVC_UPLOAD_CREATE, principal, spec, "limits", Upload)

    async def abort(self, principal: Principal, upload: Upload) -> None:
        await self.rpc.call(subjects.SVC_UPLOAD_ABORT, principal, UploadRef(id=upload.id), "limits", Upload)


@pytest.fixture
async def rpc(platform: Platform) -> AsyncIterator[_Rpc]:
    async with services_rpc(platform) as client:
        yield _Rpc(client)


async def test_an_upload_that_would_take_the_dataset_past_the_enterprise_limit_is_refused_at_creation(
    platform: Platform, rpc: _Rpc, tmp_path: Path
) -> None:
    archive = synthetic.detect_zip(tmp_path / "cams.zip", train=1, val=1)
    async with platform.client() as api:
        me = await api.me()
        dataset = await _dataset(api, "gate cams")
        done = await api.wait_upload((await upload_file(api, archive, dataset.id, UploadKind.YOLO_ZIP)).id)
        assert done.state is UploadState.COMPLETED, done.problems
    held = await _stored_bytes(platform, dataset.id)
    assert held > 0
    enterprise = Principal(org_id=me.org_id, user_id=me.id, role=Role.ML_ENGINEER, plan=Plan.ENTERPRISE)
    assert plans.limits(Plan.ENTERPRISE).max_dataset_bytes == plans.limits(Plan.ENTERPRISE).max_upload_bytes == 10 * GIB

    # 10 GiB is within the per-upload limit, but the dataset holds a few KiB already
    with pytest.raises(RemoteProblem) as refused:
        await rpc.create(enterprise, dataset.id, 10 * GIB)
    problem = refused.value.problem()
    assert problem.status == 429 and problem.type.endswith("dataset-too-large"), problem
    assert problem.detail == (
        f"the enterprise plan allows 10 GiB per dataset; this one holds {human_bytes(held)} "
        "and the upload declares 10 GiB"
    )
    assert await _uploads_of(platform, dataset.id) == 1  # only the import above: nothing stored for the refusal

    # exactly up to the limit is fine; the pro plan has no dataset limit at all
    fits = await rpc.create(enterprise, dataset.id, 10 * GIB - held)
    assert fits.state is UploadState.RECEIVING
    pro = enterprise.model_copy(update={"plan": Plan.PRO})
    assert plans.limits(Plan.PRO).max_dataset_bytes is None
    unlimited = await rpc.create(pro, dataset.id, 10 * GIB)
    for upload in (fits, unlimited):
        await rpc.abort(enterprise, upload)


async def test_an_import_whose_real_size_does_not_fit_fails_with_the_reason_and_stores_nothing(
    platform: Platform, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    limit = 40 * 1024
    monkeypatch.setitem(plans.LIMITS, Plan.FREE, dataclasses.replace(plans.LIMITS[Plan.FREE], max_dataset_bytes=limit))
    one, (first,) = _flat_zip(tmp_path / "one.zip", 1)
    four, images = _flat_zip(tmp_path / "four.zip", 4)
    assert four.stat().st_size < 4 * 1024 < limit - len(first) < sum(len(i) for i in images[1:])
    async with platform.client() as api:
        dataset = await _dataset(api, "flat")
        fitted = await api.wait_upload((await upload_file(api, one, dataset.id, UploadKind.YOLO_ZIP)).id)
        assert fitted.state is UploadState.COMPLETED and fitted.imported_samples == 1, fitted.problems

        # the zip declares a few KiB, which fits; its images take 48 KiB, of which 36 KiB are new: they do not
        upload = await upload_file(api, four, dataset.id, UploadKind.YOLO_ZIP)
        assert upload.state is UploadState.IMPORTING
        failed = await api.wait_upload(upload.id)
        reason = (
            f"the free plan allows 40 KiB per dataset; this one holds {human_bytes(len(first))} "
            f"and the upload adds {human_bytes(sum(len(i) for i in images[1:]))}"
        )
        assert failed.state is UploadState.FAILED
        assert failed.error == f"1 problem(s); first: four.zip: {reason}", failed.error
        assert failed.problems == [{"file": "four.zip", "line": None, "message": reason}]
        assert failed.imported_samples == 0
        after = await api.get_dataset(dataset.id)
        assert after.sample_count == 1
        assert [s.sha256 for s in (await api.list_samples(dataset.id)).samples] == [hashlib.sha256(first).hexdigest()]

        # at creation, the declared size counts against what the dataset holds: a 429 problem through the gateway
        body = {
            "dataset_id": str(dataset.id),
            "filename": "more.zip",
            "kind": "yolo_zip",
            "size": limit,
            "sha256": "0" * 64,
        }
        async with platform.http.post(f"{platform.url}/api/v1/uploads", json=body, headers=platform.auth()) as r:
            assert r.status == 429 and r.content_type == PROBLEM
            assert (await r.json())["detail"] == (
                f"the free plan allows 40 KiB per dataset; this one holds {human_bytes(len(first))} "
                "and the upload declares 40 KiB"
            )
    # the refused images never reached the object store
    store = object_store(platform.dataset_settings)
    for image in images[1:]:
        assert not await store.exists(blob_key(hashlib.sha256(image).hexdigest()))
    assert await store.exists(blob_key(hashlib.sha256(first).hexdigest()))
    assert await _stored_bytes(platform, dataset.id) == len(first)

    # the failure is in the audit trail with its reason
    (entry,) = (await _trail(platform, {("upload.failed", str(upload.id))}))[("upload.failed", str(upload.id))]
    assert entry.detail == {"dataset_id": str(dataset.id), "reason": failed.error, "problems": 1}


async def _trail(
    platform: Platform, want: set[tuple[str, str]], limit_s: float = 20
) -> dict[tuple[str, str], list[AuditEvent]]:
    """Poll `GET /api/v1/audit?action=upload.*` until each (action, resource_id) in `want` is in it (the projection
    is asynchronous); the entries by (action, resource_id)."""
    deadline = time.monotonic() + limit_s
    while True:
        params = {"action": "upload.*", "limit": "500"}
        async with platform.http.get(f"{platform.url}/api/v1/audit", params=params, headers=platform.auth()) as r:
            body: Any = await r.json()
            assert r.status == 200, body
        found: dict[tuple[str, str], list[AuditEvent]] = {}
        for entry in AuditList.model_validate(body).events:
            found.setdefault((entry.action, entry.resource_id), []).append(entry)
        if want <= set(found):
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"missing {want - set(found)} in {sorted(found)}")
        await asyncio.sleep(0.1)


async def test_import_outcomes_are_audited_by_the_user_who_finalized_the_upload(
    platform: Platform, tmp_path: Path
) -> None:
    good = synthetic.detect_zip(tmp_path / "good.zip", train=3, val=1)
    bad, _ = _flat_zip(tmp_path / "bad.zip", 1, class_id=7)  # class 7 of two
    async with platform.client() as api:
        engineer = await api.create_user("eng", Role.ML_ENGINEER)
        dataset = await _dataset(api, "yard")
    by_engineer = f"user:{engineer.id}"
    async with platform.client(engineer.api_key) as api:
        completed = await api.wait_upload((await upload_file(api, good, dataset.id, UploadKind.YOLO_ZIP)).id)
        assert completed.state is UploadState.COMPLETED and completed.imported_samples == 4, completed.problems
        # the same archive again: every image is in the dataset already
        again = await api.wait_upload((await upload_file(api, good, dataset.id, UploadKind.YOLO_ZIP)).id)
        assert again.state is UploadState.COMPLETED and again.skipped_samples == 4
        # created by the engineer, finalized by the admin: the outcome is the admin's
        sent = await upload_file(api, bad, dataset.id, UploadKind.YOLO_ZIP, finalize=False)
    async with platform.client() as api:
        admin = await api.me()
        await api.finalize_upload(sent.id)
        failed = await api.wait_upload(sent.id)
    assert failed.state is UploadState.FAILED and failed.error

    want = {
        ("upload.completed", str(completed.id)),
        ("upload.completed", str(again.id)),
        ("upload.failed", str(sent.id)),
        ("upload.finalized", str(sent.id)),
    }
    trail = await _trail(platform, want)
    (done,) = trail[("upload.completed", str(completed.id))]
    (redone,) = trail[("upload.completed", str(again.id))]
    (refused,) = trail[("upload.failed", str(sent.id))]
    (finalized,) = trail[("upload.finalized", str(sent.id))]
    async with platform.client() as api:
        size = sum(s.size for s in (await api.list_samples(dataset.id, limit=100)).samples)
    assert (done.actor, done.service, done.resource_type, done.org_id) == (
        by_engineer,
        "dataset",
        "upload",
        admin.org_id,
    )
    assert done.detail == {
        "dataset_id": str(dataset.id),
        "samples_added": 4,
        "samples_skipped": 0,
        "bytes_added": size,
        "ratings_updated": 0,
    }
    assert redone.actor == by_engineer and redone.detail["samples_added"] == 0 and redone.detail["samples_skipped"] == 4
    assert redone.detail["bytes_added"] == 0
    assert (refused.actor, refused.service, refused.resource_type) == (f"user:{admin.id}", "dataset", "upload")
    assert refused.detail == {"dataset_id": str(dataset.id), "reason": failed.error, "problems": len(failed.problems)}
    assert "0.txt" in refused.detail["reason"]
    # the outcome belongs to the conversation of the finalize that started the import
    assert refused.correlation_id == finalized.correlation_id and finalized.actor == f"user:{admin.id}"
    # one record per outcome
    completed_ids = [rid for action, rid in trail if action == "upload.completed"]
    assert sorted(completed_ids) == sorted([str(completed.id), str(again.id)])
