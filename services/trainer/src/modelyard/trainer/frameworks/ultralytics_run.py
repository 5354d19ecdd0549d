"""The training child for Ultralytics: `python -m modelyard.trainer.frameworks.ultralytics_run --spec FILE`.

It trains the job the spec describes, exports best.pt to ONNX and reports everything as protocol events on stdout
(see `protocol` for the events and exit codes). Ultralytics' own output goes to stderr. It needs no network.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import importlib
import importlib.util
import logging
import os
import shutil
import sys
import traceback
from pathlib import Path
from typing import Any, NoReturn

from modelyard.frameworks.cancel import CancelledRun, CancelSwitch
from modelyard.frameworks.jobspec import TrainJobSpec
from modelyard.frameworks.protocol import (
    EXIT_COMPLETED,
    EXIT_FAILED,
    EXIT_USAGE,
    Cancelled,
    Completed,
    EventWriter,
    Exported,
    Failed,
    LogLine,
    Metrics,
    Started,
    clean_metrics,
    exit_code_for_signal,
)
from modelyard.trainer.frameworks.ultralytics import DEFAULT_MODELS
from modelyard.trainer.frameworks.ultralytics_events import EventBridge, WarningForwarder

CRASH_AFTER_EPOCH_ENV = "MODELYARD_TEST_CRASH_AFTER_EPOCH"  # tests only: SIGKILL itself after this epoch
RUN_NAME = "train"
CONFIG_DIR_NAME = "ultralytics-config"
# Where the child decides, whatever the config says: the run must stay inside the workdir and resumable.
_OWNED_ARGS = frozenset({"data", "project", "name", "exist_ok", "device", "resume", "save_dir", "model", "task"})


def main(argv: list[str] | None = None) -> int:
    writer = EventWriter.take_stdout()  # first: nothing may print to the protocol stream
    switch = CancelSwitch()
    switch.install()
    bridge: EventBridge | None = None
    try:
        parser = argparse.ArgumentParser(prog="ultralytics_run", description=__doc__)
        parser.add_argument("--spec", required=True, help="path to the TrainJobSpec JSON file")
        args = parser.parse_args(argv)
        try:
            spec = TrainJobSpec.from_file(args.spec)
        except (OSError, ValueError) as e:
            _last_word(writer, Failed(error=f"cannot read train job spec {args.spec}: {e}"))
            return EXIT_USAGE
        crash_after = os.environ.get(CRASH_AFTER_EPOCH_ENV)
        bridge = EventBridge(writer, switch, crash_after_epoch=int(crash_after) if crash_after else None)
        run(spec, writer, switch, bridge)
    except CancelledRun as e:
        switch.quiet = True
        _last_word(writer, Cancelled(signal=_signal_name(e.signum), epoch=bridge.last_epoch if bridge else None))
        return exit_code_for_signal(e.signum)
    except Exception as e:  # noqa: BLE001  # every failure must reach the worker as a failed event
        switch.quiet = True
        traceback.print_exc(file=sys.stderr)
        _last_word(writer, Failed(error=f"{type(e).__name__}: {e}"))
        return EXIT_FAILED
    return EXIT_COMPLETED


def _last_word(writer: EventWriter, event: Cancelled | Failed) -> None:
    """The final event, if anyone still listens: a worker that died closed the pipe (BrokenPipeError)."""
    with contextlib.suppress(OSError):
        writer.emit(event)


def run(spec: TrainJobSpec, writer: EventWriter, switch: CancelSwitch, bridge: EventBridge) -> None:
    # Check what can be checked before the slow imports, so that a bad spec fails in well under a second.
    data = _dataset_path(spec)
    source = _local_file(spec.resume_from, "resume checkpoint") if spec.resume_from else _model_source(spec)
    workdir = Path(spec.workdir).resolve()
    save_dir = workdir / RUN_NAME
    config = {k: v for k, v in spec.config.items() if k not in _OWNED_ARGS}
    train_args: dict[str, Any] = {
        "plots": False,
        "val": True,
        "verbose": False,
        "amp": spec.device != "cpu",
        **config,
        "data": str(data),
        "project": str(workdir),
        "name": RUN_NAME,
        "exist_ok": True,
        "device": spec.device,
    }

    from modelyard.trainer.frameworks import ultralytics_offline

    config_dir = workdir / CONFIG_DIR_NAME
    if ultralytics_offline.prepare_environment(config_dir) is None:
        writer.emit(LogLine(line="no TrueType font on this machine: plots use a bitmap font", level="warning"))
    yolo = _yolo_class()  # imported only now: the environment above must be in place first
    ultralytics_offline.configure_ultralytics(config_dir)
    logging.getLogger("ultralytics").addHandler(WarningForwarder(writer))

    model = yolo(source, task=spec.task)
    if spec.resume_from is not None:
        ckpt = model.ckpt or {}
        if _is_finished(ckpt):
            _finish_from_checkpoint(spec, ckpt, save_dir, writer)
            return
        _carry_best(Path(spec.resume_from), save_dir)
        bridge.last_epoch = int(ckpt["epoch"]) + 1  # what a cancel during setup reports
        writer.emit(LogLine(line=f"resuming from {spec.resume_from} (epoch {int(ckpt['epoch']) + 1} done)"))
        # Ultralytics restores epochs, optimizer, EMA and the other hyperparameters from the checkpoint; of ours it
        # keeps only those it allows on resume (device, batch, workers, ...). save_dir keeps this attempt's workdir.
        train_args.update(resume=True, save_dir=str(save_dir))

    bridge.attach(model)
    model.train(**train_args)
    trainer = model.trainer

    switch.immediate = True  # training is over: a cancel now needs no care
    switch.check()  # one that came after the last batch
    best = Path(trainer.best) if Path(trainer.best).exists() else Path(trainer.last)
    _export(yolo(str(best), task=spec.task), int(_first(trainer.args.imgsz)), writer)
    writer.emit(
        Completed(
            best_epoch=bridge.best_epoch or bridge.last_epoch,
            metrics=bridge.final_metrics,
            framework_version=_version(),
        )
    )


def _export(model: Any, imgsz: int, writer: EventWriter) -> None:
    writer.emit(LogLine(line=f"exporting ONNX at imgsz {imgsz}"))
    simplify = importlib.util.find_spec("onnxslim") is not None
    path = Path(model.export(format="onnx", imgsz=imgsz, dynamic=False, simplify=simplify, device="cpu"))
    writer.emit(Exported(format="onnx", path=str(path), size=path.stat().st_size, sha256=_sha256(path)))


def _finish_from_checkpoint(spec: TrainJobSpec, ckpt: dict[str, Any], save_dir: Path, writer: EventWriter) -> None:
    """The earlier attempt finished training (its last.pt is final) but died before reporting completion: export
    instead of training again. Its best.pt is used when it lies beside the checkpoint. best_epoch is None when the
    checkpoint no longer says (Ultralytics drops the early-stopping state from final checkpoints)."""
    train_args = ckpt.get("train_args") or {}
    epochs = int(train_args.get("epochs") or spec.config.get("epochs") or 0)
    writer.emit(Started(epochs=epochs, resumed_from_epoch=epochs))
    writer.emit(LogLine(line=f"{spec.resume_from} holds a finished training: exporting it"))
    source = Path(spec.resume_from or "")
    chosen = source.with_name("best.pt") if source.with_name("best.pt").is_file() else source
    target = save_dir / "weights" / chosen.name  # export next to a copy inside this attempt's workdir
    if chosen.resolve() != target.resolve():
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(chosen, target)
    model = _yolo_class()(str(target), task=spec.task)
    ckpt = model.ckpt or ckpt
    _export(model, int(_first(train_args.get("imgsz") or spec.config.get("imgsz") or 640)), writer)
    stopper = ckpt.get("stopper") or {}
    best_epoch = int(stopper["best_epoch"]) if stopper.get("best_epoch") else None
    metrics: Metrics = clean_metrics(
        {k: v for k, v in (ckpt.get("train_metrics") or {}).items() if str(k).startswith("metrics/")}
    )
    writer.emit(Completed(best_epoch=best_epoch, metrics=metrics, framework_version=_version()))


def _is_finished(ckpt: dict[str, Any]) -> bool:
    """A checkpoint that Ultralytics would refuse to resume: stripped (final) or already at its last epoch."""
    epoch = int(ckpt.get("epoch", -1))
    epochs = int((ckpt.get("train_args") or {}).get("epochs") or 0)
    return ckpt.get("optimizer") is None or epoch < 0 or epoch + 1 >= epochs


def _carry_best(resume_from: Path, save_dir: Path) -> None:
    """Resuming into another workdir: bring the earlier attempt's best.pt along, so that best.pt stays the best of
    the whole job even if no later epoch beats it (one copy at start, nothing per epoch)."""
    source = resume_from.with_name("best.pt")
    target = save_dir / "weights" / "best.pt"
    if source.is_file() and not target.exists() and source.resolve() != target.resolve():
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)


def _yolo_class() -> Any:
    """ultralytics.YOLO, as Any: the framework is untyped for our purposes."""
    return importlib.import_module("ultralytics").YOLO


def _model_source(spec: TrainJobSpec) -> str:
    model = str(spec.config.get("model") or DEFAULT_MODELS[spec.task])
    if model.endswith((".yaml", ".yml")):
        return model  # a built-in architecture name or a local file: built from scratch, nothing to download
    return _local_file(model, "model weights")


def _local_file(path: str, what: str) -> str:
    if not Path(path).is_file():
        raise FileNotFoundError(f"{what} {path!r} is not a local file (training runs offline: no downloads)")
    return path


def _dataset_path(spec: TrainJobSpec) -> Path:
    path = Path(spec.dataset_yaml)
    if not path.exists():
        raise FileNotFoundError(f"dataset {spec.dataset_yaml!r} does not exist")
    if spec.task == "classify" and path.is_file():
        return path.parent  # Ultralytics classifies from a folder of train/ and val/ class folders
    return path


def _first(value: Any) -> Any:
    return value[0] if isinstance(value, (list, tuple)) else value


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _signal_name(signum: int) -> str:
    import signal

    return signal.Signals(signum).name


def _exit(code: int) -> NoReturn:
    """Leave without the interpreter's teardown: everything is reported and flushed by now, and finalising torch and
    friends takes one to two seconds that the worker would spend waiting for the exit status."""
    sys.stdout.flush()
    sys.stderr.flush()
    logging.shutdown()
    os._exit(code)


def _version() -> str:
    import ultralytics

    return f"ultralytics {ultralytics.__version__}"


if __name__ == "__main__":
    _exit(main())
