"""A completed job becomes a draft model version: the scheduler's fenced JobSucceeded carries the trainer's
artifacts and metrics and the job's own facts. The version is the next minor of its module unless the job named
one; inference time is measured on the ONNX model; a redelivered event registers nothing twice."""

from __future__ import annotations

import asyncio
import hashlib
import json
import tempfile
import uuid
from pathlib import Path

from faststream.nats import NatsBroker

from modelyard.contracts import streams, subjects
from modelyard.contracts.api.models import Lineage, ModelStatus
from modelyard.contracts.envelope import Event
from modelyard.contracts.events import JobSucceeded, ModelRegistered
from modelyard.contracts.streams import ConsumerSpec
from modelyard.registry import inference, metrics, versions
from modelyard.registry.deps import Deps
from modelyard.registry.settings import SERVICE
from modelyard.runtime import outbox
from modelyard.runtime.audit import audit_event
from modelyard.runtime.consumer import event_consumer
from modelyard.runtime.logging import get_logger

log = get_logger(__name__)
COMPLETIONS = ConsumerSpec(streams.JOBS.name, "registry-completions", subjects.JOB_SUCCEEDED, ack_wait_s=60.0)
UNASSIGNED = "unassigned"  # the module of a job whose dataset names none


def config_sha256(config: dict[str, object]) -> str:
    return hashlib.sha256(json.dumps(config, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def register(broker: NatsBroker, deps: Deps) -> None:
    @event_consumer(broker, COMPLETIONS)
    async def on_completion(event: Event) -> None:
        if isinstance(event, JobSucceeded):
            await register_version(deps, event)


async def _inference_ms(deps: Deps, done: JobSucceeded) -> float | None:
    onnx = next((a for a in done.artifacts if a.name.endswith(".onnx")), None)
    if onnx is None or deps.settings.measure_inference_runs == 0:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.onnx"
        await deps.store.download(onnx.key, path)
        try:
            return await asyncio.to_thread(inference.median_ms, path, deps.settings.measure_inference_runs)
        except Exception as exc:  # noqa: BLE001 - a model onnxruntime cannot run still registers; the figure is absent
            log.warning("registry.inference_time_failed", job_id=str(done.job_id), error=repr(exc))
            return None


async def register_version(deps: Deps, done: JobSucceeded) -> None:
    assert done.org_id is not None
    if await deps.pool.fetchval("SELECT 1 FROM models WHERE job_id = $1", done.job_id):
        return  # registered already; the insert below checks again under the module lock
    measured = metrics.normalize(done.metrics)
    if (ms := await _inference_ms(deps, done)) is not None:
        measured["inference_ms"] = ms
    module = done.ai_module or UNASSIGNED
    async with deps.pool.acquire() as conn, conn.transaction():
        await deps.modules.lock(conn, done.org_id, module)  # one registration per module at a time
        taken = await deps.models.versions_of(conn, done.org_id, module)
        base = max(taken, key=versions.parse) if taken else None
        notes = ""
        version = done.model_version
        if version is None or version in taken:
            if version is not None:
                notes = f"requested version {version} was taken; registered as the next minor"
            version = versions.next_minor(taken)
        lineage = Lineage(
            job_id=done.job_id,
            job_name=done.name,
            attempt=done.attempt,
            submitted_by=done.submitted_by,
            dataset_id=done.dataset_id,
            dataset_version=done.dataset_version,
            manifest_sha256=done.manifest_sha256,
            framework=done.framework,
            task=done.task,
            config=done.config,
            config_sha256=config_sha256(done.config),
            base_version=base,
            trainer_id=done.trainer_id,
            trainer_version=done.trainer_version,
            framework_version=done.framework_version,
        )
        model_id = uuid.uuid4()
        inserted = await deps.models.insert(
            conn,
            {
                "id": model_id,
                "org_id": done.org_id,
                "ai_module": module,
                "version": version,
                "name": done.name,
                "task": done.task,
                "framework": done.framework,
                "status": ModelStatus.DRAFT.value,
                "metrics": measured,
                "artifacts": [a.model_dump() for a in done.artifacts],
                "lineage": lineage.model_dump(mode="json"),
                "job_id": done.job_id,
                "submitted_by": done.submitted_by,
                "notes": notes,
            },
        )
        if not inserted:
            return
        reason = f"trained by job {done.job_id}"
        await deps.models.record(conn, model_id, SERVICE, "registered", None, ModelStatus.DRAFT, reason)
        registered = done.caused(
            ModelRegistered,
            actor=SERVICE,
            model_id=model_id,
            ai_module=module,
            version=version,
            job_id=done.job_id,
            metrics=measured,
        )
        await outbox.enqueue(
            conn,
            registered,
            audit_event(
                registered, service="registry", action="model.registered", resource_type="model", resource_id=model_id
            ),
        )
    log.info("registry.registered", model_id=str(model_id), ai_module=module, version=version)
