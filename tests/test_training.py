"""Training end to end against the real servers: a YOLO dataset the test builds, a version, a job on real trainer
processes, live status over the WebSocket, checkpoints and ONNX in S3, a trainer killed mid-job, cancel, quotas,
invalid config and a stale report."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import json
import os
import signal
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import nats
import pytest

from modelyard.contracts import plans, streams
from modelyard.contracts.events import TrainingCompleted, TrainingFailed
from modelyard.contracts.plans import Plan
from modelyard.runtime import jetstream

from .conftest import Platform
from .training_support import FAST, job_detail, published_version, submit, wait_job


async def test_config_default_and_resolve_with_per_field_errors(platform: Platform) -> None:
    url = f"{platform.url}/api/v1/training/config"
    async with platform.http.get(f"{url}/default?framework=ultralytics&task=detect", headers=platform.auth()) as r:
        assert r.status == 200
        default = await r.json()
    assert default["values"]["model"].startswith("yolo11n") and "yolo detect train" in default["cli_preview"]
    body = {"framework": "ultralytics", "task": "detect", "mode": "user", "overrides": {"epochs": 3, "lr0": 0.1}}
    async with platform.http.post(f"{url}/resolve", json=body, headers=platform.auth()) as r:
        assert r.status == 422
        problem = await r.json()
    assert [e["field"] for e in problem["errors"]] == ["overrides.lr0"]
    async with platform.http.post(f"{url}/resolve", json=body | {"mode": "developer"}, headers=platform.auth()) as r:
        resolved = await r.json()
    assert resolved["values"]["lr0"] == 0.1 and "epochs=3" in resolved["cli_preview"]
    bad = body | {"mode": "developer", "overrides": {"epochs": 0, "imgsz": 33, "nonsense": 1}}
    async with platform.http.post(f"{url}/resolve", json=bad, headers=platform.auth()) as r:
        assert r.status == 422
        fields = {e["field"] for e in (await r.json())["errors"]}
    assert fields == {"overrides.epochs", "overrides.imgsz", "overrides.nonsense"}


@pytest.mark.slow
async def test_job_trains_streams_live_and_stores_checkpoints_and_onnx(platform: Platform, tmp_path: Path) -> None:
    dataset_id, version = await published_version(platform, tmp_path)
    await platform.spawn_trainer()
    job = await submit(platform, dataset_id, version)
    assert job["status"] in ("pending", "queued")

    updates: list[dict[str, Any]] = []
    async with (
        aiohttp.ClientSession() as http,
        http.ws_connect(f"{platform.url.replace('http', 'ws')}/ws/training/{job['id']}", headers=platform.auth()) as ws,
    ):
        first = await ws.receive_json(timeout=10)
        assert first["event"] == "connected"
        await ws.send_json({"event": "ping"})
        async for message in ws:
            update = message.json()
            if update["event"] == "training_status":
                updates.append(update)
            if update.get("status") in ("completed", "failed", "cancelled"):
                break
    assert updates[-1]["status"] == "completed", updates[-1]
    epochs = sorted({u["current_epoch"] for u in updates if u["metrics"]})
    assert epochs[-2:] == [1, 2]
    assert any("metrics/mAP50(B)" in u["metrics"] for u in updates)

    done = await job_detail(platform, job["id"])
    assert done["current_epoch"] == 2 and done["progress_percent"] == 100.0 and done["best_epoch"] in (1, 2)
    async with platform.http.get(
        f"{platform.url}/api/v1/training/jobs/{job['id']}/metrics", headers=platform.auth()
    ) as r:
        assert [m["epoch"] for m in (await r.json())["metrics"]] == [1, 2]
    async with platform.http.get(
        f"{platform.url}/api/v1/training/jobs/{job['id']}/checkpoints", headers=platform.auth()
    ) as r:
        checkpoints = {c["name"]: c for c in (await r.json())["checkpoints"]}
    assert set(checkpoints) == {"best.pt", "last.pt", "model.onnx"}
    async with httpx.AsyncClient() as plain:
        for checkpoint in checkpoints.values():
            body = (await plain.get(checkpoint["url"])).content
            assert hashlib.sha256(body).hexdigest() == checkpoint["sha256"]
            assert len(body) == checkpoint["size"] > 0
    async with platform.http.get(
        f"{platform.url}/api/v1/training/jobs/{job['id']}/logs?limit=5", headers=platform.auth()
    ) as r:
        logs = await r.json()
    assert logs["lines"] and logs["next_offset"] == len(logs["lines"])


@pytest.mark.slow
async def test_a_killed_trainer_loses_the_job_to_another_that_resumes_from_last_pt(
    platform: Platform, tmp_path: Path
) -> None:
    dataset_id, version = await published_version(platform, tmp_path)
    first = await platform.spawn_trainer(lease_s=4)
    job = await submit(platform, dataset_id, version, epochs=4)
    nc = await nats.connect(platform.nats_url)
    saved = asyncio.Event()

    async def on_checkpoint(msg: Any) -> None:
        if job["id"] in msg.data.decode() and '"last.pt"' in msg.data.decode():
            saved.set()

    await nc.subscribe("job.training.checkpoint", cb=on_checkpoint)
    await asyncio.wait_for(saved.wait(), 180)  # epoch 1 done and last.pt in S3
    running = await job_detail(platform, job["id"])
    assert running["status"] == "running" and running["attempt"] == 1
    os.kill(first.pid, signal.SIGKILL)  # its training child dies with it
    await asyncio.to_thread(first.wait)
    await platform.spawn_trainer(lease_s=4)
    done = await wait_job(platform, job["id"], {"completed", "failed"})
    await nc.close()
    assert done["status"] == "completed", done["error_message"]
    assert done["attempt"] == 2 and done["id"] == job["id"]
    async with platform.http.get(
        f"{platform.url}/api/v1/training/jobs/{job['id']}/metrics", headers=platform.auth()
    ) as r:
        assert [m["epoch"] for m in (await r.json())["metrics"]] == [1, 2, 3, 4]


@pytest.mark.slow
async def test_cancel_stops_the_running_trainer(platform: Platform, tmp_path: Path) -> None:
    dataset_id, version = await published_version(platform, tmp_path)
    await platform.spawn_trainer()
    job = await submit(platform, dataset_id, version, epochs=200)
    deadline = time.monotonic() + 180
    while (await job_detail(platform, job["id"]))["current_epoch"] < 1:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.2)
    async with platform.http.post(
        f"{platform.url}/api/v1/training/jobs/{job['id']}/cancel", headers=platform.auth()
    ) as r:
        assert r.status == 200
    started = time.monotonic()
    cancelled = await wait_job(platform, job["id"], {"cancelled", "failed", "completed"}, limit_s=30)
    assert cancelled["status"] == "cancelled"
    assert time.monotonic() - started < 10
    async with platform.http.post(
        f"{platform.url}/api/v1/training/jobs/{job['id']}/cancel", headers=platform.auth()
    ) as r:
        assert r.status == 409  # already over


async def test_quota_refuses_a_second_concurrent_job_on_the_free_plan(platform: Platform, tmp_path: Path) -> None:
    dataset_id, version = await published_version(platform, tmp_path)
    await submit(platform, dataset_id, version)  # no trainer: it stays queued, and counts
    body = {"name": "two", "dataset_id": str(dataset_id), "dataset_version": version, "overrides": {"epochs": 1}}
    async with platform.http.post(f"{platform.url}/api/v1/training/jobs", json=body, headers=platform.auth()) as r:
        assert r.status == 429
        assert "1 job(s) at a time" in (await r.json())["detail"]


async def test_bad_job_input_gets_per_field_problems(platform: Platform, tmp_path: Path) -> None:
    dataset_id, version = await published_version(platform, tmp_path)
    cases: list[tuple[dict[str, Any], str]] = [
        ({"overrides": {"epochs": -1}}, "overrides.epochs"),
        ({"mode": "user", "overrides": {"optimizer": "SGD"}}, "overrides.optimizer"),
        ({"dataset_version": 0}, "dataset_version"),
        ({"pool": "tpu"}, "pool"),
    ]
    for change, field in cases:
        body = {"name": "x", "dataset_id": str(dataset_id), "dataset_version": version, "mode": "developer"} | change
        async with platform.http.post(f"{platform.url}/api/v1/training/jobs", json=body, headers=platform.auth()) as r:
            assert r.status == 422, (change, await r.text())
            assert field in [e["field"] for e in (await r.json())["errors"]]
    body = {"name": "x", "dataset_id": str(dataset_id), "dataset_version": 99}
    async with platform.http.post(f"{platform.url}/api/v1/training/jobs", json=body, headers=platform.auth()) as r:
        assert r.status == 404


async def test_a_report_from_a_stale_attempt_is_ignored(platform: Platform, tmp_path: Path) -> None:
    dataset_id, version = await published_version(platform, tmp_path)
    job = await submit(platform, dataset_id, version)  # no trainer: queued, attempt 0
    common: dict[str, Any] = {
        "correlation_id": "stale",
        "org_id": uuid.UUID(job["org_id"]),
        "actor": "service:trainer:old",
        "job_id": uuid.UUID(job["id"]),
    }
    stale = [
        TrainingCompleted(
            **common,
            attempt=7,
            artifacts=[],
            metrics={"fitness": 1.0},
            best_epoch=1,
            config={},
            dataset_id=dataset_id,
            dataset_version=version,
            manifest_sha256="0" * 64,
        ),
        TrainingFailed(**common, attempt=3, error="from a trainer that lost its lease", retryable=False),
    ]
    nc = await nats.connect(platform.nats_url)
    for event in stale:
        await nc.jetstream().publish(event.nats_subject, event.encode(), headers=event.headers())
    await nc.close()
    assert platform.scheduler is not None
    deadline = time.monotonic() + 60
    while platform.scheduler.stale_reports < 2:
        assert time.monotonic() < deadline, "the reports were not processed"
        await asyncio.sleep(0.1)
    after = await job_detail(platform, job["id"])
    assert after["status"] == "queued" and after["error_message"] is None


async def test_sse_streams_status_until_the_job_ends(platform: Platform, tmp_path: Path) -> None:
    dataset_id, version = await published_version(platform, tmp_path)
    job = await submit(platform, dataset_id, version)  # no trainer: it waits in the queue
    events: list[dict[str, Any]] = []
    async with platform.http.get(
        f"{platform.url}/api/v1/training/jobs/{job['id']}/events", headers=platform.auth()
    ) as stream:
        assert stream.headers["Content-Type"].startswith("text/event-stream")
        async for raw in stream.content:
            line = raw.decode().strip()
            if not line.startswith("data: "):
                continue
            events.append(json.loads(line[len("data: ") :]))
            if len(events) == 2:  # connected + the current state: now cancel it
                async with platform.http.post(
                    f"{platform.url}/api/v1/training/jobs/{job['id']}/cancel", headers=platform.auth()
                ) as r:
                    assert r.status == 200
    assert [e["event"] for e in events] == ["connected", "training_status", "training_status"]
    assert events[1]["status"] == "queued" and events[-1]["status"] == "cancelled"


async def test_live_view_of_another_orgs_job_is_a_404(platform: Platform, tmp_path: Path) -> None:
    async with platform.http.get(f"{platform.url}/ws/training/{uuid.uuid4()}", headers=platform.auth()) as r:
        assert r.status == 404 and r.content_type == "application/problem+json"
    async with platform.http.get(f"{platform.url}/ws/training/{uuid.uuid4()}") as r:
        assert r.status == 401


@pytest.mark.slow
async def test_a_trainer_takes_higher_priority_jobs_first(
    platform: Platform, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dataset_id, version = await published_version(platform, tmp_path)
    # more than one job at a time (the scheduler reads the limits of the plan the gateway passes, in this process;
    # changing the org's plan row instead would wait for the gateway's cache of the admin's key)
    two_at_a_time = dataclasses.replace(plans.LIMITS[Plan.FREE], max_concurrent_jobs=2)
    monkeypatch.setitem(plans.LIMITS, Plan.FREE, two_at_a_time)
    low = await submit(platform, dataset_id, version, epochs=1)
    body = {
        "name": "urgent",
        "dataset_id": str(dataset_id),
        "dataset_version": version,
        "mode": "developer",
        "priority": "high",
        "overrides": FAST | {"epochs": 1},
    }
    async with platform.http.post(f"{platform.url}/api/v1/training/jobs", json=body, headers=platform.auth()) as r:
        high = await r.json()
    await platform.spawn_trainer()  # both wait in the queue; the high one was submitted last
    first = await wait_job(platform, high["id"], {"completed", "failed"})
    second = await wait_job(platform, low["id"], {"completed", "failed"})
    assert first["status"] == second["status"] == "completed"
    assert first["started_at"] < second["started_at"]


async def test_a_job_whose_dispatch_ran_out_of_deliveries_fails_with_the_reason(
    platform: Platform, tmp_path: Path
) -> None:
    """Trainers that take the job and die each time (here: a consumer that never acks) exhaust MaxDeliver; the
    scheduler fails the job instead of leaving it waiting forever, and clears the dead message."""
    dataset_id, version = await published_version(platform, tmp_path)
    job = await submit(platform, dataset_id, version)
    spec = dataclasses.replace(streams.dispatch_consumer("cpu", "normal", lease_s=1.0), max_deliver=2)
    nc = await nats.connect(platform.nats_url)
    js = nc.jetstream()
    await jetstream.ensure_consumer(js, spec)
    sub = await js.pull_subscribe_bind(spec.durable, spec.stream)
    for _ in range(2):  # taken twice, never finished
        [msg] = await sub.fetch(1, timeout=10)
        assert job["id"] in msg.data.decode()
    with contextlib.suppress(nats.errors.TimeoutError, TimeoutError):  # trainers keep asking; nothing comes
        await sub.fetch(1, timeout=3)
    failed = await wait_job(platform, job["id"], {"failed"}, limit_s=30)
    assert "delivered 2 times" in (failed["error_message"] or "")
    assert (await js.stream_info("DISPATCH")).state.messages == 0
    await sub.unsubscribe()
    await nc.close()


async def test_delete_removes_the_job_and_frees_its_quota_slot(platform: Platform, tmp_path: Path) -> None:
    dataset_id, version = await published_version(platform, tmp_path)
    job = await submit(platform, dataset_id, version)  # queued: it holds the free plan's one slot
    async with platform.http.delete(f"{platform.url}/api/v1/training/jobs/{job['id']}", headers=platform.auth()) as r:
        assert r.status == 200 and (await r.json())["id"] == job["id"]
    async with platform.http.get(f"{platform.url}/api/v1/training/jobs/{job['id']}", headers=platform.auth()) as r:
        assert r.status == 404
    await submit(platform, dataset_id, version)  # the slot is free again
