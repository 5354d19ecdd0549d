"""Shared steps of the end-to-end training tests: a published YOLO dataset version, a submitted job, waiting for it."""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path
from typing import Any

from modelyard.client import synthetic
from modelyard.client.uploader import upload_file
from modelyard.contracts.api.datasets import DatasetCreate, Task
from modelyard.contracts.api.uploads import UploadKind, UploadState

from .conftest import Platform

FAST = {"epochs": 2, "imgsz": 64, "batch": 8, "workers": 0, "device": "cpu", "seed": 0}


async def published_version(platform: Platform, tmp_path: Path, ai_module: str | None = None) -> tuple[uuid.UUID, int]:
    async with platform.client() as api:
        dataset = await api.create_dataset(
            DatasetCreate(name=f"cars-{uuid.uuid4().hex[:6]}", task=Task.DETECT, ai_module=ai_module)
        )
        archive = synthetic.detect_zip(tmp_path / "cars.zip", train=16, val=4)
        done = await api.wait_upload((await upload_file(api, archive, dataset.id, UploadKind.YOLO_ZIP)).id)
        assert done.state is UploadState.COMPLETED, done.problems
        version = await api.publish_version(dataset.id, include="all")
    return dataset.id, version.version


async def submit(platform: Platform, dataset_id: uuid.UUID, version: int, **overrides: Any) -> dict[str, Any]:
    body = {
        "name": "cars-yolo",
        "dataset_id": str(dataset_id),
        "dataset_version": version,
        "mode": "developer",
        "overrides": FAST | overrides,
    }
    async with platform.http.post(f"{platform.url}/api/v1/training/jobs", json=body, headers=platform.auth()) as r:
        assert r.status == 202, await r.text()
        job: dict[str, Any] = await r.json()
        return job


async def job_detail(platform: Platform, job_id: str) -> dict[str, Any]:
    async with platform.http.get(f"{platform.url}/api/v1/training/jobs/{job_id}", headers=platform.auth()) as r:
        assert r.status == 200
        detail: dict[str, dict[str, Any]] = await r.json()
        return detail["job"]


async def wait_job(platform: Platform, job_id: str, done: set[str], limit_s: float = 240) -> dict[str, Any]:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        job = await job_detail(platform, job_id)
        if job["status"] in done:
            return job
        await asyncio.sleep(0.3)
    raise AssertionError(f"job {job_id} still {job['status']}")
