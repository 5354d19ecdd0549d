"""Live metrics latency: the end of an epoch on the trainer → the training_status message on a WebSocket client.

One job of EPOCHS short epochs (8 + 2 images of 32 px, imgsz 32) runs on the stack's CPU trainer while this
process watches it like a browser would, on `GET /ws/training/{job_id}` (Authorization: Bearer), and also listens
to `telemetry.metrics.>` with a plain core NATS subscription. The trainer stamps EpochReported.occurred_at when it
builds the event, right after it reads the child's epoch line; the gateway forwards the event to the socket as a
training_status message (its `timestamp` is stamped when the gateway builds the message). For every
training_status message that brings a new epoch: latency = time received here - that epoch's occurred_at (same
machine, same clock). The table splits it: trainer → NATS → gateway (the message's timestamp - occurred_at) and
gateway → socket → here (received - timestamp), and shows the NATS receipt here for comparison.

Not included: the child's own time between the end of the epoch and its epoch line (it emits the line from
Ultralytics' on_fit_epoch_end, once validation is done) and the pipe to the trainer.

Starts its own stack (DevStack: nats-server, PostgreSQL, S3, dataset, scheduler, one CPU trainer, gateway) in a
temporary folder and always stops it. Prints a table, then one JSON line: {"p50_ms", "p99_ms", "n", ...}.
Goal: p99 <= 50 ms.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import aiohttp

from modelyard.contracts import subjects
from modelyard.contracts.events import CheckpointSaved, EpochReported

if TYPE_CHECKING:  # `python bench/live_metrics.py` puts bench/ on sys.path; mypy sees the bench package
    from bench import _platform
else:
    import _platform

EPOCHS = int(os.environ.get("MODELYARD_BENCH_EPOCHS", "30"))
OVERRIDES: dict[str, Any] = {
    "epochs": EPOCHS,
    "imgsz": 32,
    "batch": 8,
    "workers": 0,
    "seed": 0,
    "device": "cpu",
    "patience": 1000,  # no early stop: every epoch is a sample
}


@dataclass(frozen=True)
class Sample:
    epoch: int
    occurred_at: float  # EpochReported.occurred_at (trainer)
    forwarded_at: float  # the training_status message's timestamp (gateway)
    nats_seen_at: float  # EpochReported received here on core NATS
    ws_seen_at: float  # the training_status message received here

    @property
    def latency_ms(self) -> float:
        return (self.ws_seen_at - self.occurred_at) * 1000


async def watch(platform: _platform.Platform, job_id: str) -> tuple[list[tuple[int, float, float]], str]:
    """(epoch, received here, gateway timestamp) for each training_status that brought a new epoch; final status."""
    url = f"{platform.gateway.replace('http', 'ws', 1)}/ws/training/{job_id}"
    seen: list[tuple[int, float, float]] = []
    last_epoch, status = 0, "unknown"
    async with aiohttp.ClientSession() as http, http.ws_connect(url, headers=platform.auth) as ws:
        while True:
            message = await ws.receive(timeout=300)
            received = time.time()  # first: parsing must not count
            if message.type is not aiohttp.WSMsgType.TEXT:
                raise RuntimeError(f"the socket ended: {message.type.name} {message.data!r}")
            update = json.loads(message.data)
            if update.get("event") != "training_status":
                continue
            status = update["status"]
            if update["current_epoch"] > last_epoch and update["metrics"]:
                last_epoch = update["current_epoch"]
                seen.append((last_epoch, received, _platform.timestamp(update["timestamp"])))
            if status in _platform.FINAL:
                return seen, status


@dataclass(frozen=True)
class Uploads:
    files: int  # CheckpointSaved events of the job: last.pt each epoch, best.pt when it improved, model.onnx
    mb: float


async def measure(platform: _platform.Platform) -> tuple[list[Sample], dict[str, float], Uploads]:
    version = await _platform.publish_detect_version(platform, train=8, val=2, size=32)
    async with platform.http() as http, _platform.nats_client(platform) as nc:
        recorder = _platform.EventRecorder()
        await recorder.subscribe(nc, "telemetry.metrics.>", subjects.TRAINING_CHECKPOINT)
        await nc.flush()
        meter = _platform.CpuMeter(platform)
        before = meter.snapshot()
        submitted = await _platform.submit(http, _platform.job_body(version, OVERRIDES, "live-metrics"))
        seen, status = await watch(platform, submitted.id)  # connects while the job is queued or starting
        cpu = meter.used(before, meter.snapshot())
        if status != "completed":
            job = await _platform.get_job(http, submitted.id)
            raise RuntimeError(f"job {status}: {job['error_message']}")
    reported = {event.epoch: (at, event) for at, event in recorder.all(submitted.id, EpochReported)}
    samples = [
        Sample(epoch, reported[epoch][1].occurred_at.timestamp(), forwarded, reported[epoch][0], received)
        for epoch, received, forwarded in seen
        if epoch in reported
    ]
    saved = [event.artifact.size for _, event in recorder.all(submitted.id, CheckpointSaved)]
    return samples, cpu, Uploads(len(saved), sum(saved) / 1e6)


def report(samples: list[Sample], cpu: dict[str, float], uploads: Uploads) -> None:
    p = _platform.percentile
    latency = [s.latency_ms for s in samples]
    rows = (
        ("trainer → NATS → gateway (message timestamp)", [(s.forwarded_at - s.occurred_at) * 1000 for s in samples]),
        ("gateway → WebSocket → here", [(s.ws_seen_at - s.forwarded_at) * 1000 for s in samples]),
        ("EpochReported built → received here on WebSocket", latency),
        ("(for comparison) → received here on core NATS", [(s.nats_seen_at - s.occurred_at) * 1000 for s in samples]),
    )
    print(f"{f'ms, {len(samples)} epochs':<52}{'p50':>9}{'p95':>9}{'p99':>9}{'max':>9}")
    for label, values in rows:
        cells = (p(values, 50), p(values, 95), p(values, 99), max(values))
        print(f"{label:<52}" + "".join(f"{c:>9.1f}" for c in cells))
    print(f"CPU-s during the job: {_platform.CpuMeter.describe(cpu)}")
    print(f"checkpoints the trainer put in S3 during the job: {uploads.files} files, {uploads.mb:.0f} MB")
    print(
        f"p99 {p(latency, 99):.1f} ms (goal <= 50 ms); one job of {EPOCHS} epochs, 8 + 2 images at imgsz 32,"
        f" {os.cpu_count()} cores (the training child keeps them busy)"
    )
    print(
        json.dumps(
            {
                "p50_ms": round(p(latency, 50), 1),
                "p99_ms": round(p(latency, 99), 1),
                "n": len(samples),
                "p95_ms": round(p(latency, 95), 1),
                "max_ms": round(max(latency), 1),
                "to_gateway_p50_ms": round(p(rows[0][1], 50), 1),
                "to_gateway_p99_ms": round(p(rows[0][1], 99), 1),
                "gateway_to_client_p50_ms": round(p(rows[1][1], 50), 1),
                "gateway_to_client_p99_ms": round(p(rows[1][1], 99), 1),
                "nats_p99_ms": round(p(rows[3][1], 99), 1),
                "epochs": EPOCHS,
                "stack_cpu_s": round(sum(cpu.get(n, 0.0) for n in _platform.CpuMeter.SERVICES), 1),
                "training_cpu_s": round(cpu.get("training child", 0.0), 1),
                "upload_mb": round(uploads.mb),
            }
        )
    )


def main() -> None:
    with _platform.running_stack("live-metrics") as platform:
        try:
            samples, cpu, uploads = asyncio.run(measure(platform))
        except BaseException:
            print(platform.log_tail("trainer"), file=sys.stderr)
            raise
    if not samples:
        raise SystemExit("no epoch came over the WebSocket")
    report(samples, cpu, uploads)


if __name__ == "__main__":
    main()
