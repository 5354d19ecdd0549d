"""Helpers for the registry tests: a real (tiny) ONNX model in S3 and the scheduler's JobSucceeded for it, as a
completed job would produce; and reading the AUDIT stream."""

from __future__ import annotations

import asyncio
import hashlib
import time
import uuid
from typing import Any

import nats
import onnx
from onnx import TensorProto, helper

from modelyard.contracts import streams
from modelyard.contracts.api.models import ModelVersion
from modelyard.contracts.api.training import Artifact
from modelyard.contracts.envelope import decode
from modelyard.contracts.events import AuditRecorded, JobSucceeded
from modelyard.runtime.storage import ObjectStore

from .conftest import Platform


def tiny_onnx(scale: float = 1.0) -> bytes:
    """A 1x3x32x32 image in, the same scaled out: small, but a model onnxruntime runs and times."""
    weight = helper.make_tensor("w", TensorProto.FLOAT, [1], [scale])
    graph = helper.make_graph(
        [helper.make_node("Mul", ["images", "w"], ["output0"])],
        "tiny",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, 32, 32])],
        [helper.make_tensor_value_info("output0", TensorProto.FLOAT, [1, 3, 32, 32])],
        [weight],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    data: bytes = onnx.shape_inference.infer_shapes(model).SerializeToString()
    return data


async def complete_job(
    platform: Platform,
    *,
    ai_module: str = "vehicles",
    submitted_by: str | None = None,
    model_version: str | None = None,
    job_id: uuid.UUID | None = None,
    scale: float = 1.0,
    onnx_model: bytes | None = None,
) -> JobSucceeded:
    """Publish what the scheduler publishes when a job's current attempt completes."""
    s = platform.dataset_settings
    store = ObjectStore(s.s3_endpoint, s.s3_access_key, s.s3_secret_key.get_secret_value(), s.s3_bucket)
    job_id = job_id or uuid.uuid4()
    data = onnx_model or tiny_onnx(scale)
    key = f"jobs/{job_id}/model.onnx"
    await store.put(key, data)
    async with platform.client() as api:
        me = await api.me()
    event = JobSucceeded(
        correlation_id=f"test-{job_id}",
        org_id=me.org_id,
        actor="service:scheduler",
        job_id=job_id,
        attempt=1,
        name="cars-yolo",
        ai_module=ai_module,
        framework="ultralytics",
        task="detect",
        submitted_by=submitted_by or f"user:{me.id}",
        model_version=model_version,
        artifacts=[Artifact(name="model.onnx", key=key, size=len(data), sha256=hashlib.sha256(data).hexdigest())],
        metrics={"metrics/precision(B)": 0.8, "metrics/recall(B)": 0.6, "metrics/mAP50(B)": 0.7, "val/box_loss": 1.0},
        best_epoch=2,
        config={"epochs": 2, "imgsz": 32},
        dataset_id=uuid.uuid4(),
        dataset_version=1,
        manifest_sha256="ab" * 32,
    )
    nc = await nats.connect(platform.nats_url)
    try:
        await nc.jetstream().publish(event.nats_subject, event.encode(), headers=event.headers())
    finally:
        await nc.close()
    return event


async def registered(platform: Platform, job_id: uuid.UUID, limit_s: float = 30) -> ModelVersion:
    deadline = time.monotonic() + limit_s
    async with platform.client() as api:
        while time.monotonic() < deadline:
            page = await api.list_models(job_id=job_id)
            if page.models:
                return page.models[0]
            await asyncio.sleep(0.1)
    raise AssertionError(f"no model version registered for job {job_id}")


async def audit_actions(platform: Platform, limit_s: float = 10, at_least: int = 1, **want: Any) -> list[AuditRecorded]:
    """The AUDIT stream's records so far, once `at_least` of them match `want` (waiting up to `limit_s`): each
    refusal is its own transaction, so the records arrive one relay pass at a time."""
    nc = await nats.connect(platform.nats_url)
    try:
        js = nc.jetstream()
        deadline = time.monotonic() + limit_s
        while True:
            info = await js.stream_info(streams.AUDIT.name)
            records = []
            for seq in range(info.state.first_seq, info.state.last_seq + 1):
                event = decode((await js.get_msg(streams.AUDIT.name, seq)).data or b"")
                if isinstance(event, AuditRecorded):
                    records.append(event)
            matching = sum(1 for r in records if all(getattr(r, k) == v for k, v in want.items()))
            if matching >= at_least:
                return records
            if time.monotonic() > deadline:
                raise AssertionError(f"no audit record with {want}: {[r.action for r in records]}")
            await asyncio.sleep(0.2)
    finally:
        await nc.close()
