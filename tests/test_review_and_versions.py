"""Labeling review and immutable versions."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import httpx
import pytest

from modelyard.client import synthetic
from modelyard.client.api import ApiError, ModelyardClient
from modelyard.client.uploader import upload_file
from modelyard.contracts.api.datasets import DatasetCreate, Task
from modelyard.contracts.api.identity import Role
from modelyard.contracts.api.uploads import UploadKind, UploadState

from .conftest import Platform


async def _imported(api: ModelyardClient, tmp_path: Path, name: str = "cams", train: int = 4, val: int = 2):  # type: ignore[no-untyped-def]
    dataset = await api.create_dataset(DatasetCreate(name=name, task=Task.DETECT))
    archive = synthetic.detect_zip(tmp_path / f"{name}.zip", train=train, val=val)
    done = await api.wait_upload((await upload_file(api, archive, dataset.id, UploadKind.YOLO_ZIP)).id)
    assert done.state is UploadState.COMPLETED, done.problems
    return dataset, (await api.list_samples(dataset.id, limit=100)).samples


async def test_annotators_label_reviewers_decide_and_counts_follow(platform: Platform, tmp_path: Path) -> None:
    annotator_a = await platform.user_key(Role.ANNOTATOR, "ann")
    annotator_b = await platform.user_key(Role.ANNOTATOR, "bob")
    reviewer = await platform.user_key(Role.REVIEWER, "rev")
    async with platform.client() as admin:
        dataset, samples = await _imported(admin, tmp_path)
    first, second = samples[0], samples[1]
    box = {"class_id": 0, "x": 0.5, "y": 0.5, "w": 0.2, "h": 0.2}
    async with platform.client(annotator_a) as api:
        await api.label_sample(dataset.id, first.id, labels={"boxes": [box]})
        with pytest.raises(ApiError) as refused:
            await api.review_sample(dataset.id, first.id, "approve")
        assert refused.value.problem.status == 403  # annotators do not review
        with pytest.raises(ApiError) as outside:
            await api.label_sample(dataset.id, first.id, labels={"boxes": [box | {"class_id": 5}]})
        assert outside.value.problem.status == 422 and "outside the class list" in (outside.value.problem.detail or "")
    async with platform.client(annotator_b) as api:
        disagreeing = await api.label_sample(dataset.id, first.id, labels={"boxes": [box | {"class_id": 1}]})
    assert disagreeing.annotation_count == 2 and disagreeing.agreement == 0.0

    async with platform.client(reviewer) as api:
        approved = await api.review_sample(dataset.id, first.id, "approve")
        rejected = await api.review_sample(dataset.id, second.id, "reject", "box misses the bus")
        with pytest.raises(ApiError) as no_reason:
            await api.review_sample(dataset.id, second.id, "reject")
        assert no_reason.value.problem.status == 422
    assert approved.status.value == "verified" and rejected.status.value == "rejected"

    async with platform.client() as api:
        after = await api.get_dataset(dataset.id)
        stats = await api.dataset_stats(dataset.id)
        verified = await api.list_samples(dataset.id, status="verified")
    assert after.verified_count == 1 and after.labeled_count == len(samples) - 1  # rejected is not labeled
    assert stats.verified == 1 and stats.rejected == 1 and stats.class_balance
    assert [s.id for s in verified.samples] == [first.id]

    detail = await platform.http.get(
        f"{platform.url}/api/v1/datasets/{dataset.id}/samples/{first.id}", headers=platform.auth()
    )
    body = await detail.json()
    assert [r["decision"] for r in body["reviews"]] == ["approve"]
    assert len(body["annotations"]) == 2
    async with httpx.AsyncClient() as plain:  # the presigned link fetches the image itself
        image = await plain.get(body["download_url"])
    assert image.status_code == 200 and image.content[:4] == b"\x89PNG"


async def test_publishing_the_same_content_twice_gives_the_same_version(platform: Platform, tmp_path: Path) -> None:
    async with platform.client() as api:
        dataset, samples = await _imported(api, tmp_path)
        with pytest.raises(ApiError) as empty:
            await api.publish_version(dataset.id)  # nothing verified yet
        assert empty.value.problem.status == 409
        for sample in samples[:3]:
            await api.review_sample(dataset.id, sample.id, "approve")
        v1 = await api.publish_version(dataset.id, val_fraction=0.5, seed=7)
        again = await api.publish_version(dataset.id, val_fraction=0.5, seed=7)
        assert v1.created and not again.created
        assert (again.version, again.manifest_sha256) == (v1.version, v1.manifest_sha256)
        assert v1.sample_count == 3
        # a new review decision is new content: a new version
        await api.review_sample(dataset.id, samples[3].id, "approve")
        v2 = await api.publish_version(dataset.id, val_fraction=0.5, seed=7)
        assert v2.version == 2 and v2.manifest_sha256 != v1.manifest_sha256
        everything = await api.publish_version(dataset.id, include="all")
        assert everything.sample_count == len(samples)
        assert [v.version for v in (await api.list_versions(dataset.id)).versions] == [3, 2, 1]
    async with platform.http.post(
        f"{platform.url}/api/v1/datasets/{dataset.id}/versions",
        json={"val_fraction": 0.5, "seed": 7},
        headers=platform.auth(),
    ) as r:
        assert r.status == 200  # already published: the existing version, not a new one
    async with platform.http.post(
        f"{platform.url}/api/v1/datasets/{dataset.id}/versions", json={"val_fraction": 2}, headers=platform.auth()
    ) as r:
        assert r.status == 422 and (await r.json())["errors"][0]["field"] == "val_fraction"


async def test_a_version_exports_as_an_ultralytics_dataset_zip(platform: Platform, tmp_path: Path) -> None:
    async with platform.client() as api:
        dataset, _ = await _imported(api, tmp_path, train=3, val=1)
        version = await api.publish_version(dataset.id, include="all")
        link = await api.export_version(dataset.id, version.version)
        again = await api.export_version(dataset.id, version.version)
    assert again.sha256 == link.sha256  # built once, then served
    async with httpx.AsyncClient() as plain:
        archive = (await plain.get(link.url)).content
    names = [n for n in zipfile.ZipFile(io.BytesIO(archive)).namelist() if not n.endswith("/")]
    assert "data.yaml" in names
    assert sum(n.startswith("images/train/") for n in names) == 3
    assert sum(n.startswith("images/val/") for n in names) == 1
    assert sum(n.startswith("labels/") and n.endswith(".txt") for n in names) == 4
    data_yaml = zipfile.ZipFile(io.BytesIO(archive)).read("data.yaml").decode()
    assert "car" in data_yaml and "images/val" in data_yaml
