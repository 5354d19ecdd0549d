"""Training through Modelyard against bare Ultralytics: the same training, wall time of each, on CPU.

Both sides train the same dataset version with the same arguments: the scheduler's resolved config for the
developer-mode overrides below (epochs 3, imgsz 64, batch 8, workers 0, seed 0, device cpu; the preset's other
values, plots and validation included), merged the way the trainer's child merges it, then export best.pt to ONNX
as the child does (imgsz 64, static, onnxslim when installed).

- bare: a fresh process (`python bench/train_overhead.py --bare ARGS.json`) that sets up the same offline
  environment as the trainer's child (`ultralytics_offline.prepare_environment` + `configure_ultralytics`, a fresh
  config folder each run), then `YOLO("yolo11n.yaml").train(...)` and `.export(format="onnx")` on the version
  written to disk by `write_ultralytics_dataset` (the trainer's own writer). Timed from process start to exit,
  interpreter teardown included (what a user's own script pays; the child skips it with os._exit);
- Modelyard: POST /api/v1/training/jobs → TrainingCompleted received on NATS (the trainer publishes it once the
  child has exited and best.pt, last.pt and model.onnx are in S3). Included: the HTTP submit, dispatch and claim,
  the dataset fetch (the trainer caches versions by manifest: round 1 fetches the 50 files from S3, later rounds
  find them on disk, as bare finds its copy), the child start, training, export, uploads and reports. The job's
  started_at → finished_at (the trainer side) is shown too.

Starts its own stack (DevStack: nats-server, PostgreSQL, S3, dataset, scheduler, one CPU trainer, gateway) in a
temporary folder and always stops it. Rounds alternate bare and Modelyard so that drift on a shared machine hits
both (MODELYARD_BENCH_ROUNDS, default 3; one untimed `import ultralytics` first warms the page cache); medians are
reported. The machine is shared, so the table also says where the CPU went during each run: the training process,
the stack's services and servers (idle ones during a bare run), and "not ours" (everything else on the machine:
when that is large, both sides were slowed and the ratio is noise as much as overhead).

Prints a table, then one JSON line: {"bare_s", "modelyard_s", "ratio", ...}. Goal: ratio (Modelyard / bare) <= 1.03.
"""

from __future__ import annotations

import sys
import time

BARE = sys.argv[1:2] == ["--bare"]

# The bare child imports nothing of the platform (it would count against bare): only the stdlib from here on, the
# rest inside the functions that run in the parent.
import asyncio  # noqa: E402
import importlib.util  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import statistics  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import TYPE_CHECKING, Any  # noqa: E402

if TYPE_CHECKING:
    import httpx

    from bench import _platform
elif not BARE:
    import _platform

SELF = Path(__file__).resolve()
ROUNDS = int(os.environ.get("MODELYARD_BENCH_ROUNDS", "3"))
TRAIN_IMAGES, VAL_IMAGES, IMAGE_PX = 40, 10, 64
OVERRIDES: dict[str, Any] = {"epochs": 3, "imgsz": 64, "batch": 8, "workers": 0, "seed": 0, "device": "cpu"}
# What the trainer's child (ultralytics_run.run) decides itself, whatever the config says.
OWNED_ARGS = frozenset({"data", "project", "name", "exist_ok", "device", "resume", "save_dir", "model", "task"})


# -- the bare side: a child process ------------------------------------------------------------------------------


def bare_child(args_file: Path) -> None:
    """Train and export like the trainer's child, with plain Ultralytics calls; write the time marks to a file."""
    spec = json.loads(args_file.read_text())
    marks: dict[str, Any] = {"main": time.time()}
    from modelyard.trainer.frameworks import ultralytics_offline

    config_dir = Path(spec["config_dir"])
    ultralytics_offline.prepare_environment(config_dir)
    import ultralytics  # after the environment, as in the child

    ultralytics_offline.configure_ultralytics(config_dir)
    marks["imported"] = time.time()
    model = ultralytics.YOLO(spec["model"], task="detect")
    fit_ends: list[float] = []
    epoch_times: list[float] = []

    def on_train_start(trainer: Any) -> None:
        marks["train_start"] = time.time()

    def on_fit_epoch_end(trainer: Any) -> None:  # once per epoch, and once more after best.pt's final validation
        fit_ends.append(time.time())
        if len(fit_ends) <= int(trainer.epochs) and trainer.epoch_time is not None:
            epoch_times.append(float(trainer.epoch_time))

    model.add_callback("on_train_start", on_train_start)
    model.add_callback("on_fit_epoch_end", on_fit_epoch_end)
    model.train(**spec["train_args"])
    marks["trained"] = time.time()
    trainer = model.trainer
    best = Path(trainer.best) if Path(trainer.best).exists() else Path(trainer.last)
    exported = ultralytics.YOLO(str(best), task="detect").export(
        format="onnx", imgsz=spec["imgsz"], dynamic=False, simplify=spec["simplify"], device="cpu"
    )
    marks["exported"] = time.time()
    marks |= {"epoch_ends": fit_ends, "epoch_times": epoch_times, "onnx_bytes": Path(exported).stat().st_size}
    Path(spec["marks"]).write_text(json.dumps(marks))
    # a normal exit: interpreter teardown (torch and friends) is part of the bare wall time


@dataclass
class BareRun:
    wall_s: float
    to_train_start_s: float  # process start → on_train_start (interpreter, imports, model build, data loaders)
    training_s: float  # on_train_start → last epoch's on_fit_epoch_end
    finish_s: float  # → export done (final validation of best.pt, ONNX export)
    teardown_s: float  # → process exit
    epoch_times: list[float]
    cpu: dict[str, float] = field(default_factory=dict)  # CPU seconds by whom during the run (CpuMeter.used)


async def run_bare(work: Path, data_yaml: Path, config: dict[str, Any], index: int) -> BareRun:
    run_dir = work / f"bare-{index}"
    train_args = {
        # the child's defaults, then the resolved config, then what the child owns (ultralytics_run.run)
        "plots": False,
        "val": True,
        "verbose": False,
        "amp": False,
        **{k: v for k, v in config.items() if k not in OWNED_ARGS},
        "data": str(data_yaml),
        "project": str(run_dir),
        "name": "train",
        "exist_ok": True,
        "device": "cpu",
    }
    spec = {
        "model": config["model"],
        "train_args": train_args,
        "config_dir": str(run_dir / "ultralytics-config"),
        "imgsz": int(config["imgsz"]),
        "simplify": importlib.util.find_spec("onnxslim") is not None,
        "marks": str(run_dir / "marks.json"),
    }
    run_dir.mkdir(parents=True)
    args_file = run_dir / "args.json"
    args_file.write_text(json.dumps(spec))
    log = run_dir / "bare.log"
    with log.open("wb") as out:
        started = time.time()
        process = await asyncio.create_subprocess_exec(
            sys.executable, str(SELF), "--bare", str(args_file), stdout=out, stderr=out
        )
        try:
            code = await process.wait()
            ended = time.time()
        finally:
            if process.returncode is None:  # interrupted: leave no process behind
                process.kill()
                await process.wait()
    if code != 0:
        raise RuntimeError(f"bare training exited {code}:\n{log.read_text()[-3000:]}")
    marks = json.loads((run_dir / "marks.json").read_text())
    epochs = int(config["epochs"])
    last_epoch = marks["epoch_ends"][epochs - 1]
    return BareRun(
        wall_s=ended - started,
        to_train_start_s=marks["train_start"] - started,
        training_s=last_epoch - marks["train_start"],
        finish_s=marks["exported"] - last_epoch,
        teardown_s=ended - marks["exported"],
        epoch_times=marks["epoch_times"],
    )


# -- the Modelyard side ----------------------------------------------------------------------------------------


@dataclass
class ModelyardRun:
    wall_s: float  # request start → TrainingCompleted received
    status_completed_s: float  # request start → JobStatusChanged(completed) received (what a live view shows)
    submit_s: float  # request start → 202
    to_claim_s: float  # request start → claimed (job.started_at)
    to_train_start_s: float  # claimed → TrainingStarted (dataset fetch, child start, imports, model, loaders)
    training_s: float  # TrainingStarted → last EpochReported
    finish_s: float  # last EpochReported → TrainingCompleted received (final val, export, exit, uploads)
    onnx_uploaded_s: float  # last EpochReported → CheckpointSaved(model.onnx)
    trainer_side_s: float  # job.started_at → job.finished_at (claim → the scheduler applied TrainingCompleted)
    uploads: int  # CheckpointSaved events: files the trainer put in S3 (last.pt each epoch, best.pt, model.onnx)
    upload_mb: float
    epoch_times: list[float] = field(default_factory=list)
    cpu: dict[str, float] = field(default_factory=dict)


async def run_modelyard(
    http: httpx.AsyncClient, recorder: _platform.EventRecorder, version: _platform.Version, index: int
) -> ModelyardRun:
    from modelyard.contracts.envelope import Event
    from modelyard.contracts.events import (
        CheckpointSaved,
        EpochReported,
        JobStatusChanged,
        TrainingCompleted,
        TrainingStarted,
    )

    submitted = await _platform.submit(http, _platform.job_body(version, OVERRIDES, f"overhead-{index}"))

    def over(event: Event) -> bool:
        if isinstance(event, JobStatusChanged):
            return event.status.final
        return isinstance(event, TrainingCompleted)

    await recorder.wait_for(submitted.id, over, timeout_s=600)
    job = await _platform.wait_job(http, submitted.id, timeout_s=60)
    if job["status"] != "completed":
        raise RuntimeError(f"job {submitted.id} {job['status']}: {job['error_message']}")
    completed = await recorder.wait_for(submitted.id, lambda e: isinstance(e, TrainingCompleted))
    status = await recorder.wait_for(
        submitted.id, lambda e: isinstance(e, JobStatusChanged) and e.status.value == "completed"
    )
    started = recorder.all(submitted.id, TrainingStarted)[0][1]
    epochs = [event for _, event in recorder.all(submitted.id, EpochReported)]
    saved = [event for _, event in recorder.all(submitted.id, CheckpointSaved)]
    onnx = next(e for e in saved if e.artifact.name == "model.onnx")
    claimed = _platform.timestamp(job["started_at"])
    last_epoch = max(epochs, key=lambda e: e.epoch).occurred_at.timestamp()
    t0 = submitted.sent_at
    return ModelyardRun(
        wall_s=completed.received_at - t0,
        status_completed_s=status.received_at - t0,
        submit_s=submitted.answered_at - t0,
        to_claim_s=claimed - t0,
        to_train_start_s=started.occurred_at.timestamp() - claimed,
        training_s=last_epoch - started.occurred_at.timestamp(),
        finish_s=completed.received_at - last_epoch,
        onnx_uploaded_s=onnx.occurred_at.timestamp() - last_epoch,
        trainer_side_s=_platform.timestamp(job["finished_at"]) - claimed,
        uploads=len(saved),
        upload_mb=sum(e.artifact.size for e in saved) / 1e6,
        epoch_times=[e.epoch_time_s for e in sorted(epochs, key=lambda e: e.epoch) if e.epoch_time_s is not None],
    )


async def bare_dataset(platform: _platform.Platform, version: _platform.Version) -> Path:
    """The version written out by the trainer's own writer, from the manifest in S3, into the bench's folder."""
    from modelyard.contracts.api.versions import Manifest
    from modelyard.runtime.ultralytics_dataset import write_ultralytics_dataset

    store = platform.store()
    manifest = Manifest.model_validate_json(await store.get(version.manifest_key))
    return await write_ultralytics_dataset(manifest, store, platform.work / "bare-dataset")


async def measure(platform: _platform.Platform) -> tuple[list[BareRun], list[ModelyardRun], dict[str, Any]]:
    version = await _platform.publish_detect_version(platform, train=TRAIN_IMAGES, val=VAL_IMAGES, size=IMAGE_PX)
    data_yaml = await bare_dataset(platform, version)
    bare: list[BareRun] = []
    ours: list[ModelyardRun] = []
    async with platform.http(timeout_s=120) as http, _platform.nats_client(platform) as nc:
        config = await _platform.resolved_config(http, OVERRIDES)
        recorder = _platform.EventRecorder()
        await recorder.subscribe(nc, "job.>", "telemetry.metrics.>")
        # untimed: read torch and Ultralytics into the page cache, so that the first bare run is not the cold one
        warm = await asyncio.create_subprocess_exec(sys.executable, "-c", "import ultralytics")
        await warm.wait()
        meter = _platform.CpuMeter(platform)
        for index in range(ROUNDS):  # interleaved, so drift on a shared machine hits both alike
            before = meter.snapshot()
            bare.append(await run_bare(platform.work, data_yaml, config, index))
            bare[-1].cpu = meter.used(before, meter.snapshot())
            before = meter.snapshot()
            ours.append(await run_modelyard(http, recorder, version, index))
            ours[-1].cpu = meter.used(before, meter.snapshot())
    return bare, ours, config


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def _cpu_line(runs: list[BareRun] | list[ModelyardRun], training: str) -> str:
    names = {name for run in runs for name in run.cpu}
    return _platform.CpuMeter.describe({n: _median([r.cpu.get(n, 0.0) for r in runs]) for n in names}, training)


def report(bare: list[BareRun], ours: list[ModelyardRun], config: dict[str, Any]) -> None:
    def med_b(name: str) -> float:
        return _median([getattr(r, name) for r in bare])

    def med_m(name: str) -> float:
        return _median([getattr(r, name) for r in ours])

    bare_s, ours_s = med_b("wall_s"), med_m("wall_s")
    services = _platform.CpuMeter.SERVICES
    rows = [
        ("submit: POST → 202", "", med_m("submit_s")),
        ("submit → claimed by the trainer", "", med_m("to_claim_s")),
        ("→ training starts ¹", med_b("to_train_start_s"), med_m("to_train_start_s")),
        (
            f"→ last of {config['epochs']} epochs ends (training + per-epoch val)",
            med_b("training_s"),
            med_m("training_s"),
        ),
        ("→ end ²", med_b("finish_s") + med_b("teardown_s"), med_m("finish_s")),
        ("   of which interpreter teardown (bare)", med_b("teardown_s"), ""),
        ("total wall time", bare_s, ours_s),
    ]
    print(f"{'phase (medians, s)':<58}{'bare':>10}{'modelyard':>12}")
    for label, b, m in rows:
        bs = f"{b:>10.2f}" if isinstance(b, float) else f"{b:>10}"
        ms = f"{m:>12.2f}" if isinstance(m, float) else f"{m:>12}"
        print(f"{label:<58}{bs}{ms}")
    print(
        "¹ bare: process start → on_train_start (interpreter, imports, model build, data loaders); modelyard:"
        " claim → TrainingStarted (same, plus dataset fetch from S3 and the spec file)"
    )
    print(
        "² bare: final validation of best.pt, ONNX export, exit; modelyard: the same in the child, then its exit,"
        " the last uploads (best.pt, last.pt, model.onnx to S3) and TrainingCompleted received on NATS"
    )
    bare_epoch = _median([t for r in bare for t in r.epoch_times])
    our_epoch = _median([t for r in ours for t in r.epoch_times])
    print(
        f"epoch time (Ultralytics' own, median): bare {bare_epoch:.2f} s, modelyard {our_epoch:.2f} s;"
        f" trainer side (started_at → finished_at) {med_m('trainer_side_s'):.2f} s;"
        f" status 'completed' seen {med_m('status_completed_s'):.2f} s after submit;"
        f" ONNX in S3 {med_m('onnx_uploaded_s'):.2f} s after the last epoch;"
        f" the trainer put {med_m('uploads'):.0f} files, {med_m('upload_mb'):.1f} MB, in S3 per job"
    )
    print(f"CPU-s during the run (medians): bare: {_cpu_line(bare, 'bare process')}")
    print(f"                                modelyard: {_cpu_line(ours, 'training child')}")
    per_bare, per_ours = (", ".join(f"{r.wall_s:.2f}" for r in runs) for runs in (bare, ours))
    print(f"total per round, bare: {per_bare}; modelyard: {per_ours}")
    ratio = ours_s / bare_s
    print(
        f"ratio {ratio:.3f} (goal <= 1.03); {TRAIN_IMAGES}+{VAL_IMAGES} images of {IMAGE_PX} px, overrides"
        f" {json.dumps(OVERRIDES)}, {ROUNDS} rounds, {os.cpu_count()} cores"
    )
    print(
        json.dumps(
            {
                "bare_s": round(bare_s, 3),
                "modelyard_s": round(ours_s, 3),
                "ratio": round(ratio, 3),
                "rounds": ROUNDS,
                "epochs": config["epochs"],
                "bare_teardown_s": round(med_b("teardown_s"), 3),
                "ratio_bare_without_teardown": round(ours_s / (bare_s - med_b("teardown_s")), 3),
                "submit_to_claim_s": round(med_m("to_claim_s"), 3),
                "claim_to_train_start_s": round(med_m("to_train_start_s"), 3),
                "bare_to_train_start_s": round(med_b("to_train_start_s"), 3),
                "training_s": round(med_m("training_s"), 3),
                "bare_training_s": round(med_b("training_s"), 3),
                "finish_s": round(med_m("finish_s"), 3),
                "bare_finish_s": round(med_b("finish_s") + med_b("teardown_s"), 3),
                "trainer_side_s": round(med_m("trainer_side_s"), 3),
                "status_completed_s": round(med_m("status_completed_s"), 3),
                "uploads": med_m("uploads"),
                "upload_mb": round(med_m("upload_mb"), 1),
                "epoch_time_s": round(our_epoch, 3),
                "bare_epoch_time_s": round(bare_epoch, 3),
                "bare_training_cpu_s": round(_median([r.cpu.get("bare process", 0.0) for r in bare]), 2),
                "training_cpu_s": round(_median([r.cpu.get("training child", 0.0) for r in ours]), 2),
                "stack_cpu_s": round(_median([sum(r.cpu.get(n, 0.0) for n in services) for r in ours]), 2),
                "bare_stack_cpu_s": round(_median([sum(r.cpu.get(n, 0.0) for n in services) for r in bare]), 2),
                "other_cpu_s": round(_median([r.cpu.get("other", 0.0) for r in ours]), 2),
                "bare_other_cpu_s": round(_median([r.cpu.get("other", 0.0) for r in bare]), 2),
                "bare_rounds_s": [round(r.wall_s, 3) for r in bare],
                "modelyard_rounds_s": [round(r.wall_s, 3) for r in ours],
            }
        )
    )


def main() -> None:
    with _platform.running_stack("train-overhead") as platform:
        try:
            bare, ours, config = asyncio.run(measure(platform))
        except BaseException:
            print(platform.log_tail("trainer"), file=sys.stderr)
            raise
    report(bare, ours, config)


if __name__ == "__main__":
    if BARE:
        bare_child(Path(sys.argv[2]))
    else:
        main()
