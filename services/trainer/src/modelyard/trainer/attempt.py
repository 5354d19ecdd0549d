"""One attempt of one job on this trainer: fetch the dataset version (cached), resume from the last checkpoint if
there is one, run the framework's child process, and turn its event stream into reports. Checkpoint uploads and
telemetry publishing run beside the child, never in its way."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import importlib.metadata
import json
import shutil
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.js import JetStreamContext

from modelyard.contracts.api.training import Artifact, ClaimGranted
from modelyard.contracts.envelope import Event
from modelyard.contracts.events import (
    CheckpointSaved,
    EpochReported,
    LogsReported,
    TrainingCancelled,
    TrainingCompleted,
    TrainingFailed,
    TrainingStarted,
)
from modelyard.frameworks.jobspec import TrainJobSpec
from modelyard.runtime import tasks
from modelyard.runtime.logging import get_logger
from modelyard.runtime.processes import die_with_parent
from modelyard.runtime.storage import ObjectStore
from modelyard.trainer.datasets import dataset_yaml
from modelyard.trainer.frameworks import base as frameworks
from modelyard.trainer.settings import Settings

log = get_logger(__name__)
E = TypeVar("E", bound=Event)
TRAINER_VERSION = importlib.metadata.version("modelyard-trainer")
ARTIFACT_NAMES = {"last": "last.pt", "best": "best.pt", "onnx": "model.onnx"}
RESERVED = frozenset(ARTIFACT_NAMES.values())  # an `artifact` event cannot overwrite a checkpoint or the model


def artifact_key(job_id: object, name: str) -> str:
    return f"jobs/{job_id}/{name}"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class Attempt:
    def __init__(
        self,
        settings: Settings,
        nc: NatsClient,
        store: ObjectStore,
        grant: ClaimGranted,
        dispatch: Msg,
        cancel: asyncio.Event,
    ) -> None:
        """`cancel` is set when the job's cancel request arrives (the worker listens from before the claim)."""
        self.settings, self.nc, self.store, self.grant, self.dispatch = settings, nc, store, grant, dispatch
        self.cancel = cancel
        self.js: JetStreamContext = nc.jetstream()
        self.workdir = settings.work_dir.resolve() / "jobs" / str(grant.job_id) / f"attempt-{grant.attempt}"
        self.cancelled = False
        self.artifacts: dict[str, Artifact] = {}
        self.pending: dict[str, tuple[Path, int | None]] = {}  # newest file waiting to go up, per artifact name
        self.uploaders: dict[str, asyncio.Task[None]] = {}
        self.completed: dict[str, Any] | None = None
        self.failure: str | None = None
        self.process: asyncio.subprocess.Process | None = None

    # -- reporting ---------------------------------------------------------------------------------------------

    def _event(self, kind: Callable[..., E], **fields: Any) -> E:
        return kind(
            correlation_id=f"job-{self.grant.job_id}",
            org_id=self.grant.org_id,
            actor=f"service:trainer:{self.settings.trainer_id}",
            job_id=self.grant.job_id,
            attempt=self.grant.attempt,
            **fields,
        )

    async def publish(self, event: Event) -> None:
        await self.js.publish(event.nats_subject, event.encode(), headers=event.headers())

    # -- the attempt ----------------------------------------------------------------------------------------------

    async def run(self) -> str:
        """Returns the outcome: completed, failed or cancelled. The dispatch message is acked by the caller."""
        grant = self.grant
        watcher = asyncio.create_task(self._watch_cancel())
        heartbeat = asyncio.create_task(self._heartbeat())
        try:
            data = await dataset_yaml(
                self.store, self.settings.work_dir.resolve() / "datasets", grant.manifest_key, grant.manifest_sha256
            )
            resume_from = await self._fetch_resume_point()
            spec = TrainJobSpec(
                job_id=str(grant.job_id),
                attempt=grant.attempt,
                task=grant.task,
                dataset_yaml=str(data),
                workdir=str(self.workdir),
                config=grant.config,
                resume_from=str(resume_from) if resume_from else None,
                device=self.settings.device,
            )
            command = frameworks.get(grant.framework).command(spec)
            outcome = await self._train(command)
        except Exception as exc:
            log.exception("attempt.crashed", job_id=str(grant.job_id))
            self.failure = f"{type(exc).__name__}: {exc}"
            outcome = "failed"
        finally:
            for task in (heartbeat, watcher):
                await tasks.stop(task)
        await self._report(outcome)
        return outcome

    async def _fetch_resume_point(self) -> Path | None:
        """last.pt of the attempt before, and its best.pt beside it (so best keeps counting from there)."""
        if not self.grant.resume_key:
            return None
        target = self.workdir / "resume" / "last.pt"
        await asyncio.to_thread(target.parent.mkdir, parents=True, exist_ok=True)
        await self.store.download(self.grant.resume_key, target)
        if self.grant.resume_best_key:
            await self.store.download(self.grant.resume_best_key, target.with_name("best.pt"))
        return target

    async def _train(self, command: list[str]) -> str:
        await asyncio.to_thread(self.workdir.mkdir, parents=True, exist_ok=True)
        self.process = process = await asyncio.create_subprocess_exec(
            *command,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
            preexec_fn=die_with_parent(),
        )
        if self.cancelled:  # a cancel arrived while the dataset was being fetched
            process.send_signal(signal.SIGTERM)
        assert process.stdout is not None
        assert process.stderr is not None
        await asyncio.gather(self._read_events(process.stdout), self._read_logs(process.stderr))
        code = await process.wait()
        await asyncio.gather(*self.uploaders.values())
        if self.cancelled:
            return "cancelled"
        if self.completed is not None and code == 0:
            return "completed"
        self.failure = self.failure or f"the training process exited with code {code}"
        return "failed"

    async def _read_events(self, stream: asyncio.StreamReader) -> None:
        async for raw in stream:
            try:
                event = json.loads(raw)
            except ValueError:
                continue
            await self._on_event(event)

    async def _on_event(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind == "started":
            await self.publish(
                self._event(
                    TrainingStarted,
                    trainer_id=self.settings.trainer_id,
                    total_epochs=int(event["epochs"]),
                    resumed_from_epoch=event.get("resumed_from_epoch"),
                )
            )
        elif kind == "epoch":
            metrics = {k: float(v) for k, v in event.get("metrics", {}).items() if isinstance(v, int | float)}
            await self.publish(
                self._event(
                    EpochReported,
                    epoch=int(event["epoch"]),
                    epochs=int(event["epochs"]),
                    metrics=metrics,
                    epoch_time_s=event.get("epoch_time_s"),
                )
            )
        elif kind == "checkpoint":
            self._queue_upload(ARTIFACT_NAMES[str(event["kind"])], Path(event["path"]), event.get("epoch"))
        elif kind == "exported":
            self._queue_upload("model.onnx", Path(event["path"]), None)
        elif kind == "artifact" and str(event["name"]) not in RESERVED:
            self._queue_upload(str(event["name"]), Path(event["path"]), None)
        elif kind == "completed":
            self.completed = event
        elif kind in ("failed", "cancelled"):
            self.failure = str(event.get("error") or kind)

    def _queue_upload(self, name: str, path: Path, epoch: int | None) -> None:
        """At most one upload per artifact runs; a newer checkpoint replaces the one still waiting, so a slow
        object store costs skipped intermediate copies, never a backlog that slows training."""
        self.pending[name] = (path, epoch)
        running = self.uploaders.get(name)
        if running is None or running.done():
            self.uploaders[name] = asyncio.create_task(self._upload_newest(name))

    async def _upload_newest(self, name: str) -> None:
        while name in self.pending:
            path, epoch = self.pending.pop(name)
            await self._upload(name, path, epoch)

    async def _upload(self, name: str, path: Path, epoch: int | None) -> None:
        """Copy the file first: the trainer may overwrite last.pt with the next epoch while it uploads."""
        staged = path.with_name(f".{path.name}.upload-{time.monotonic_ns()}")
        await asyncio.to_thread(shutil.copyfile, path, staged)
        try:
            sha = await asyncio.to_thread(_sha256, staged)
            stored = await self.store.put(artifact_key(self.grant.job_id, name), staged, expected_sha256=sha)
        finally:
            await asyncio.to_thread(staged.unlink, missing_ok=True)
        artifact = Artifact(name=name, key=stored.key, size=stored.size, sha256=sha, epoch=epoch)
        self.artifacts[name] = artifact
        await self.publish(self._event(CheckpointSaved, artifact=artifact))

    async def _read_logs(self, stream: asyncio.StreamReader) -> None:
        pending: list[str] = []
        last_flush = time.monotonic()
        async for raw in stream:
            pending.append(raw.decode(errors="replace").rstrip()[:2000])
            if time.monotonic() - last_flush >= self.settings.log_flush_s or len(pending) >= 200:
                await self.publish(self._event(LogsReported, lines=pending))
                pending, last_flush = [], time.monotonic()
        if pending:
            await self.publish(self._event(LogsReported, lines=pending))

    async def _heartbeat(self) -> None:
        """Keep the lease: each in_progress() restarts the dispatch message's AckWait."""
        while True:
            await asyncio.sleep(self.settings.heartbeat_every)
            with contextlib.suppress(Exception):
                await self.dispatch.in_progress()

    async def _watch_cancel(self) -> None:
        await self.cancel.wait()
        self.cancelled = True
        if self.process is not None and self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(signal.SIGTERM)

    async def _report(self, outcome: str) -> None:
        grant = self.grant
        if outcome == "completed":
            assert self.completed is not None
            metrics = {k: float(v) for k, v in self.completed.get("metrics", {}).items() if isinstance(v, int | float)}
            await self.publish(
                self._event(
                    TrainingCompleted,
                    artifacts=sorted(self.artifacts.values(), key=lambda a: a.name),
                    metrics=metrics,
                    best_epoch=self.completed.get("best_epoch"),
                    config=grant.config,
                    dataset_id=grant.dataset_id,
                    dataset_version=grant.dataset_version,
                    manifest_sha256=grant.manifest_sha256,
                    trainer_id=self.settings.trainer_id,
                    trainer_version=TRAINER_VERSION,
                    framework_version=self.completed.get("framework_version"),
                )
            )
        elif outcome == "cancelled":
            await self.publish(self._event(TrainingCancelled))
        else:
            await self.publish(self._event(TrainingFailed, error=(self.failure or "failed")[:2000]))
