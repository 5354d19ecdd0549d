"""Edge hot swap under load: does replacing a model while requests arrive at a constant rate drop or slow any?

The agent's inference API (`modelyard.edge.api`, aiohttp, in this process on a free loopback port) serves one AI
module. A load generator in a second process (spawned, so that its CPU and GIL are not the server's) posts the same
320x240 JPEG at a constant rate, open loop: request i is due at start + i / rate whether or not earlier ones were
answered, and its latency is counted from that due time, so a stall shows up in full instead of slowing the load.
Meanwhile this process swaps the model `--swaps` times, evenly spread: each swap loads and warms a new model in a
thread (`load_model`: onnxruntime session, health check, two warm-up runs), then `ModelSlots.swap`. The versions
that answered are counted from the responses.

The model is a real Ultralytics export, made on the spot by the edge tests' reference child
(services/edge/tests/ultralytics_child.py, run in a subprocess: torch and Ultralytics never enter this process): a
YOLO11n detect from `yolo11n.yaml` with 3 classes and random weights, ONNX at `--imgsz` (64 by default, so that two
cores can serve a rate worth measuring: at 640 px one inference alone takes tens of milliseconds here; what a swap
costs is mostly reading the same 10 MB file and building its session, whatever the input size). Each swap reloads
that file as a new version.

Windows: a request belongs to a swap window when it was due between the start of that swap's load and 0.5 s after
the swap (`--window-after`); all other requests after the first second are steady state. `p99_ratio` = p99 in the
swap windows / steady p99. Requests that fail (non-200, connection error, 10 s timeout) are counted, not timed.
The machine may be shared: the table ends with the CPU used during the load by the agent, by the load generator
and by every other process (the machine's busy time minus ours), so that a noisy run can be told from a slow one.

Run: python bench/edge_swap.py [--rate 150] [--duration 67] [--swaps 5] [--imgsz 64] [--threads 2]. The defaults
send 10,050 requests and finish in about 80 s: on two cores, with the load generator on the same machine, the
agent serves this model at about 175-200 requests a second, and 150 leaves it some headroom. Prints a table, then
one JSON line: {"sent", "failed", "p99_ratio", ...}. What should hold: failed == 0, and p99_ratio near 1 on a
quiet machine (a swap costs CPU, so it cannot be much below 1 unless neighbours disturbed the steady state).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import json
import multiprocessing
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import numpy as np
import psutil
from aiohttp import web
from PIL import Image, ImageDraw

from modelyard.edge.api import create_api
from modelyard.edge.models import ModelSlots, load_model

ROOT = Path(__file__).resolve().parents[1]
CHILD = ROOT / "services" / "edge" / "tests" / "ultralytics_child.py"
MODULE = "vehicles"
WARMUP_S = 1.0  # the first second is neither steady nor swap: connections open, caches fill
REQUEST_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Sample:
    due: float  # time.monotonic() when the request was due (system-wide clock: same in both processes)
    latency_ms: float  # due → answer read; nan when it failed
    ok: bool
    version: str | None


@dataclass(frozen=True)
class CpuUse:
    """Core-seconds during the load: this process (the agent), the load generator, and the whole machine."""

    server_s: float
    generator_s: float
    machine_s: float
    wall_s: float

    @property
    def others_s(self) -> float:
        return max(0.0, self.machine_s - self.server_s - self.generator_s)


class CpuMeter:
    """Busy CPU of the machine (all but idle and iowait) and of this process and its reaped children."""

    def __init__(self) -> None:
        self._start = self._read()

    @staticmethod
    def _read() -> tuple[float, float, float, float]:
        times = psutil.cpu_times()
        busy = sum(times) - times.idle - getattr(times, "iowait", 0.0)
        me, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        return busy, me.ru_utime + me.ru_stime, children.ru_utime + children.ru_stime, time.monotonic()

    def stop(self) -> CpuUse:
        end = self._read()
        busy, me, children, wall = (b - a for a, b in zip(self._start, end, strict=True))
        return CpuUse(server_s=me, generator_s=children, machine_s=busy, wall_s=wall)


@dataclass(frozen=True)
class Swap:
    version: str
    load_start: float
    swapped: float

    @property
    def load_ms(self) -> float:
        return (self.swapped - self.load_start) * 1000


# --- shared with bench/edge_infer.py ------------------------------------------------------------------------------


def make_frame(path: Path) -> bytes:
    """A 320x240 JPEG (20 KB, about 0.5 ms to decode): colour gradients with mild noise and a few flat boxes, closer
    to a small camera frame than pure noise, which costs JPEG three times as much."""
    rng = np.random.default_rng(5)
    yy, xx = np.mgrid[0:240, 0:320]
    base = np.stack([xx * 255 / 320, yy * 255 / 240, (xx + yy) * 255 / 560], axis=-1)
    image = Image.fromarray(np.clip(base + rng.normal(0, 8, base.shape), 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    for _ in range(4):
        x, y = int(rng.integers(0, 200)), int(rng.integers(0, 150))
        w, h = int(rng.integers(20, 110)), int(rng.integers(20, 80))
        draw.rectangle((x, y, x + w, y + h), fill=tuple(int(v) for v in rng.integers(0, 256, 3)))
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=90)
    path.write_bytes(out.getvalue())
    return out.getvalue()


def export_model(workdir: Path, imgsz: int, frame: Path) -> Path:
    """model.onnx from the tests' Ultralytics child (a subprocess; offline; about 6 s)."""
    workdir.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        **dict.fromkeys(("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"), "http://127.0.0.1:9"),
    }
    argv = [sys.executable, str(CHILD), "--out", str(workdir), "--imgsz", str(imgsz), "--conf", "0.25", str(frame)]
    done = subprocess.run(argv, cwd=workdir, env=env, capture_output=True, timeout=300, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"model export failed:\n{done.stderr.decode()[-3000:]}")
    return workdir / "model.onnx"


@contextlib.asynccontextmanager
async def serve(slots: ModelSlots, threads: int) -> AsyncIterator[str]:
    """The agent's API on a free loopback port; yields its base URL."""
    runner = web.AppRunner(create_api(slots, inference_threads=threads), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        yield f"http://{host}:{port}"
    finally:
        await runner.cleanup()


def percentile(values: list[float], pct: float) -> float:
    return float(np.percentile(values, pct)) if values else float("nan")


# --- load generator (second process) ------------------------------------------------------------------------------


def drive(url: str, body: bytes, rate: float, duration: float, start: float) -> list[Sample]:
    """Post `body` to `url` at `rate` per second for `duration` seconds from monotonic time `start`."""
    return asyncio.run(_drive(url, body, rate, duration, start))


async def _drive(url: str, body: bytes, rate: float, duration: float, start: float) -> list[Sample]:
    samples: list[Sample] = []
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0), timeout=timeout) as session:

        async def one(due: float) -> None:
            try:
                async with session.post(url, data=body, headers={"Content-Type": "image/jpeg"}) as r:
                    payload = await r.json(content_type=None)
                    ok = r.status == 200
            except (aiohttp.ClientError, TimeoutError, ValueError):
                samples.append(Sample(due, float("nan"), False, None))
                return
            done = time.monotonic()
            version = payload.get("model_version") if ok else None
            samples.append(Sample(due, (done - due) * 1000 if ok else float("nan"), ok, version))

        tasks: set[asyncio.Task[None]] = set()
        count = int(rate * duration)
        for i in range(count):
            due = start + i / rate
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            task = asyncio.create_task(one(due))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        while tasks:
            await asyncio.gather(*list(tasks))
    return samples


# --- the benchmark ------------------------------------------------------------------------------------------------


async def swapper(slots: ModelSlots, model: Path, start: float, args: argparse.Namespace) -> list[Swap]:
    swaps: list[Swap] = []
    for k in range(1, args.swaps + 1):
        await asyncio.sleep(max(0.0, start + args.duration * k / (args.swaps + 1) - time.monotonic()))
        version = f"1.{k}.0"
        load_start = time.monotonic()
        new = await asyncio.to_thread(
            load_model, model, ai_module=MODULE, version=version, counter=k + 1, intra_op_threads=1
        )
        slots.swap(MODULE, new)
        swaps.append(Swap(version, load_start, time.monotonic()))
    return swaps


async def measure(args: argparse.Namespace, work: Path) -> tuple[list[Sample], list[Swap], float, CpuUse]:
    frame = work / "frame.jpg"
    body = make_frame(frame)
    model = export_model(work / "model", args.imgsz, frame)
    slots = ModelSlots()
    slots.swap(MODULE, load_model(model, ai_module=MODULE, version="1.0.0", counter=1, intra_op_threads=1))
    async with serve(slots, args.threads) as url:
        loop = asyncio.get_running_loop()
        meter = CpuMeter()  # from here to the generator's exit: its CPU counts once the pool has reaped it
        with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
            start = time.monotonic() + 3.0  # the spawned generator needs ~1 s to import; it waits for this moment
            load = loop.run_in_executor(
                pool, drive, f"{url}/v1/models/{MODULE}/infer", body, args.rate, args.duration, start
            )
            swaps = await swapper(slots, model, start, args)
            samples = await load
        cpu = meter.stop()
    return samples, swaps, start, cpu


def report(samples: list[Sample], swaps: list[Swap], start: float, cpu: CpuUse, args: argparse.Namespace) -> None:
    def in_window(s: Sample) -> bool:
        return any(w.load_start <= s.due <= w.swapped + args.window_after for w in swaps)

    timed = [s for s in samples if s.ok and s.due >= start + WARMUP_S]
    swap_ms = [s.latency_ms for s in timed if in_window(s)]
    steady_ms = [s.latency_ms for s in timed if not in_window(s)]
    failed = sum(not s.ok for s in samples)
    p99_ratio = percentile(swap_ms, 99) / percentile(steady_ms, 99)
    answered = (max(s.due for s in samples) - start) if samples else 0.0
    versions = Counter(s.version for s in samples if s.ok)

    print(
        f"edge hot swap: {args.rate:g} req/s for {args.duration:g} s ({len(samples)} requests), {len(swaps)} swaps, "
        f"YOLO11n {args.imgsz} px ONNX, {args.threads} inference threads, {os.cpu_count()} cores"
    )
    print(f"{'latency, ms (from due time)':<34}{'requests':>10}{'p50':>9}{'p90':>9}{'p99':>9}{'max':>9}")
    for name, values in (("steady state", steady_ms), (f"swap windows (load → +{args.window_after:g} s)", swap_ms)):
        print(
            f"{name:<34}{len(values):>10}{percentile(values, 50):>9.2f}{percentile(values, 90):>9.2f}"
            f"{percentile(values, 99):>9.2f}{max(values, default=float('nan')):>9.2f}"
        )
    print(f"{'swap':<8}{'version':<10}{'at s':>8}{'load+warm ms':>14}{'requests':>10}{'p99 ms':>9}")
    for i, w in enumerate(swaps, 1):
        window = [s.latency_ms for s in timed if w.load_start <= s.due <= w.swapped + args.window_after]
        print(
            f"{i:<8}{w.version:<10}{w.load_start - start:>8.1f}{w.load_ms:>14.0f}{len(window):>10}"
            f"{percentile(window, 99):>9.2f}"
        )
    print("answered by version: " + ", ".join(f"{v}: {n}" for v, n in sorted(versions.items(), key=str)))
    print(
        f"sent {len(samples)}, ok {len(samples) - failed}, failed {failed}; p99 ratio (swaps / steady) "
        f"{p99_ratio:.2f}; offered {len(samples) / max(answered, 1e-9):.0f} req/s"
    )
    cores = os.cpu_count() or 1
    print(
        f"CPU while loaded ({cpu.wall_s:.0f} s, {cores} cores = {cpu.wall_s * cores:.0f} core-s): agent "
        f"{cpu.server_s:.0f}, load generator {cpu.generator_s:.0f}, other processes on the machine "
        f"{cpu.others_s:.0f} core-s (when that is large, latencies measure the neighbours as much as the agent)"
    )
    print(
        json.dumps(
            {
                "sent": len(samples),
                "failed": failed,
                "p99_ratio": round(p99_ratio, 3),
                "steady_p50_ms": round(percentile(steady_ms, 50), 3),
                "steady_p99_ms": round(percentile(steady_ms, 99), 3),
                "swap_p50_ms": round(percentile(swap_ms, 50), 3),
                "swap_p99_ms": round(percentile(swap_ms, 99), 3),
                "swaps": len(swaps),
                "swap_load_ms_median": round(statistics.median(w.load_ms for w in swaps), 1) if swaps else None,
                "versions": len(versions),
                "rate": args.rate,
                "duration_s": args.duration,
                "imgsz": args.imgsz,
                "threads": args.threads,
                "cpu_agent_s": round(cpu.server_s, 1),
                "cpu_generator_s": round(cpu.generator_s, 1),
                "cpu_others_s": round(cpu.others_s, 1),
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=150.0, help="requests per second (default 150)")
    parser.add_argument("--duration", type=float, default=67.0, help="seconds of load (default 67)")
    parser.add_argument("--swaps", type=int, default=5, help="model swaps during the load (default 5)")
    parser.add_argument("--imgsz", type=int, default=64, help="model input size (default 64)")
    parser.add_argument("--threads", type=int, default=2, help="the API's inference threads (default 2)")
    parser.add_argument("--window-after", type=float, default=0.5, help="seconds after a swap still in its window")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="modelyard-bench-edge-swap-") as tmp:
        samples, swaps, start, cpu = asyncio.run(measure(args, Path(tmp)))
    report(samples, swaps, start, cpu, args)


if __name__ == "__main__":
    main()
