"""The training child of the audio framework.

    python -m modelyard.plugins.audio.train --spec FILE          # as the trainer worker runs it
    python -m modelyard.plugins.audio.train data=<dataset.yaml> key=value ... [workdir=DIR] [device=cpu] [resume=PT]

It computes every clip's log-mel features once (the numpy code the edge runs too), trains the configured classifier,
writes last.pt after every epoch and best.pt whenever the validation accuracy improves (ties: a lower validation
loss), stops early after `early_stop_patience` epochs without improvement, exports best.pt to ONNX and reports all of
it as protocol events on stdout (modelyard.frameworks.protocol); its own printing goes to stderr.

Per epoch it reports train_loss, train_accuracy, val_loss, val_accuracy, val_macro_f1 and learning_rate; at the end
the best epoch's accuracy, macro_f1 and val_loss, plus an `evaluation.json` artifact (confusion matrix and
per-class precision, recall and F1 of the best epoch). A dataset version without validation clips is validated on
its training clips (with a warning). A resumed attempt (`resume_from`: an earlier attempt's last.pt, best.pt beside
it) restores weights, optimiser, schedule, early-stopping state and the epoch reached, and continues with the next
epoch; one whose training had finished only exports. Shuffling depends only on the seed and the epoch, and the CPU
random state (dropout) is restored, so a resumed run on the CPU trains as an uninterrupted one would have.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import signal
import sys
import time
import traceback
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from modelyard.frameworks.cancel import CancelledRun, CancelSwitch
from modelyard.frameworks.jobspec import TrainJobSpec
from modelyard.frameworks.protocol import (
    EXIT_COMPLETED,
    EXIT_FAILED,
    EXIT_USAGE,
    ArtifactWritten,
    Cancelled,
    CheckpointSaved,
    Completed,
    EpochEnded,
    EventWriter,
    Exported,
    Failed,
    LogLine,
    Started,
    clean_metrics,
    exit_code_for_signal,
)
from modelyard.plugins.audio.features import FeatureParams
from modelyard.plugins.audio.job import read_spec, resolve_config
from modelyard.plugins.audio.presets import TASK
from modelyard.plugins.audio.schedule import BestTracker, LrSchedule

if TYPE_CHECKING:
    import torch

CRASH_AFTER_EPOCH_ENV = "MODELYARD_TEST_CRASH_AFTER_EPOCH"  # tests only: SIGKILL itself after this epoch's checkpoints
WEIGHTS = "weights"
ONNX_NAME = "model.onnx"
EVALUATION_NAME = "evaluation.json"


@dataclass
class Progress:
    last_epoch: int | None = None  # the last epoch that finished, for a cancelled event


def main(argv: list[str] | None = None) -> int:
    writer = EventWriter.take_stdout()  # first: nothing may print to the protocol stream
    switch = CancelSwitch()
    switch.install()
    progress = Progress()
    try:
        try:
            spec = read_spec(argv)
        except (OSError, ValueError) as error:
            _last_word(writer, Failed(error=str(error)))
            return EXIT_USAGE
        crash_after = os.environ.get(CRASH_AFTER_EPOCH_ENV)
        run(spec, writer, switch, progress, crash_after=int(crash_after) if crash_after else None)
    except CancelledRun as error:
        switch.quiet = True
        _last_word(writer, Cancelled(signal=signal.Signals(error.signum).name, epoch=progress.last_epoch))
        return exit_code_for_signal(error.signum)
    except Exception as error:  # noqa: BLE001  # every failure must reach the worker as a failed event
        switch.quiet = True
        traceback.print_exc(file=sys.stderr)
        _last_word(writer, Failed(error=f"{type(error).__name__}: {error}"))
        return EXIT_FAILED
    return EXIT_COMPLETED


def _last_word(writer: EventWriter, event: Cancelled | Failed) -> None:
    """The final event, if anyone still listens: a worker that died closed the pipe (BrokenPipeError)."""
    with contextlib.suppress(OSError):
        writer.emit(event)


# ---- the run ----------------------------------------------------------------------------------------------------


def run(
    spec: TrainJobSpec,
    writer: EventWriter,
    switch: CancelSwitch,
    progress: Progress,
    *,
    crash_after: int | None = None,
) -> None:
    # What can be checked before importing torch is checked first, so that a bad job fails in well under a second.
    if spec.task != TASK:
        raise ValueError(f"the audio framework trains {TASK}, not {spec.task!r}")
    config = resolve_config(spec.config)
    params = FeatureParams.from_config(config)
    data_yaml = Path(spec.dataset_yaml)
    if not data_yaml.is_file():
        raise FileNotFoundError(f"dataset {spec.dataset_yaml!r} does not exist")
    if spec.resume_from is not None and not Path(spec.resume_from).is_file():
        raise FileNotFoundError(f"resume checkpoint {spec.resume_from!r} is not a local file")
    weights = Path(spec.workdir).resolve() / WEIGHTS

    import torch

    from modelyard.plugins.audio import checkpoint
    from modelyard.plugins.audio.data import load_dataset
    from modelyard.plugins.audio.epoch import evaluate, train_epoch
    from modelyard.plugins.audio.model import build_model, parameter_count

    device = _device(spec.device)
    resume = checkpoint.load(Path(spec.resume_from)) if spec.resume_from else None
    if resume is not None and resume["finished"]:
        _finish_from_checkpoint(Path(spec.resume_from or ""), resume, weights, writer)
        return

    writer.emit(LogLine(line=f"computing log-mel features {params.shape} of {data_yaml.parent}"))
    dataset = load_dataset(data_yaml, params)
    classes = list(dataset.class_names)
    if resume is not None and list(resume["class_names"]) != classes:
        raise ValueError(f"the checkpoint was trained on classes {resume['class_names']}, the dataset has {classes}")
    val = dataset.val
    if not len(val):
        warning = "the dataset has no validation clips: validating on the training clips"
        writer.emit(LogLine(line=warning, level="warning"))
        val = dataset.train
    counts = f"{len(dataset.train)} training and {len(dataset.val)} validation clips, {len(classes)} classes"
    writer.emit(LogLine(line=counts))

    torch.manual_seed(int(config["seed"]))
    architecture = str(config["model_architecture"])
    model = build_model(architecture, len(classes), params.n_mels, float(config["dropout_rate"])).to(device)
    optimizer = _optimizer(model, config)
    epochs = int(config["epochs"])
    schedule = LrSchedule(
        kind=str(config["lr_scheduler"]),
        lr=float(config["lr"]),
        epochs=epochs,
        warmup_epochs=int(config["warmup_epochs"]),
        step_epochs=int(config["lr_step_epochs"]),
        factor=float(config["lr_decay_factor"]),
        plateau_patience=int(config["plateau_patience"]),
    )
    tracker = BestTracker(patience=int(config["early_stop_patience"]))
    first = 1
    if resume is not None:
        model.load_state_dict(resume["model"])
        optimizer.load_state_dict(resume["optimizer"])
        schedule.load_state_dict(resume["schedule"])
        tracker.load_state_dict(resume["tracker"])
        torch.set_rng_state(resume["rng"])  # dropout masks continue as if the run had never stopped
        first = int(resume["epoch"]) + 1
        progress.last_epoch = int(resume["epoch"])
        _carry_best(Path(spec.resume_from or ""), weights)
        writer.emit(LogLine(line=f"resuming from {spec.resume_from} (epoch {resume['epoch']} done)"))
    writer.emit(LogLine(line=f"{architecture}: {parameter_count(model)} parameters on {device}"))
    writer.emit(Started(epochs=epochs, resumed_from_epoch=progress.last_epoch if resume is not None else None))

    switch.immediate = False
    switch.check()  # a signal that came during setup
    fixed = {"architecture": architecture, "class_names": classes, "features": params.to_metadata(), "config": config}
    batch = int(config["batch_size"])
    for epoch in range(first, epochs + 1):
        started = time.monotonic()
        lr = schedule.lr_for(epoch)
        for group in optimizer.param_groups:
            group["lr"] = lr
        train_loss, train_accuracy = train_epoch(model, optimizer, dataset.train, batch, config, epoch, device, switch)
        result = evaluate(model, val, batch, len(classes), device, switch)
        schedule.observe(epoch, result.loss)
        improved = tracker.update(epoch, result.accuracy, result.loss, result.details(classes))
        finished = epoch == epochs or tracker.should_stop
        metrics = {
            "train_loss": train_loss,
            "train_accuracy": train_accuracy,
            "val_loss": result.loss,
            "val_accuracy": result.accuracy,
            "val_macro_f1": result.macro_f1,
            "learning_rate": lr,
        }
        took = time.monotonic() - started
        writer.emit(EpochEnded(epoch=epoch, epochs=epochs, metrics=clean_metrics(metrics), epoch_time_s=took))
        progress.last_epoch = epoch
        state = {
            **fixed,
            "epoch": epoch,
            "epochs": epochs,
            "finished": finished,
            "model": model.state_dict(),
            "schedule": schedule.state_dict(),
            "tracker": tracker.state_dict(),
        }
        last = checkpoint.save(
            weights / "last.pt", {**state, "optimizer": optimizer.state_dict(), "rng": torch.get_rng_state()}
        )
        writer.emit(CheckpointSaved(kind="last", path=str(last), epoch=epoch, size=last.stat().st_size))
        if improved:
            best = checkpoint.save(weights / "best.pt", {**state, "optimizer": None, "rng": None})
            writer.emit(CheckpointSaved(kind="best", path=str(best), epoch=epoch, size=best.stat().st_size))
        if crash_after is not None and epoch >= crash_after:
            os.kill(os.getpid(), signal.SIGKILL)
        if finished and epoch < epochs:
            writer.emit(LogLine(line=f"stopping early: no better validation accuracy for {tracker.since_best} epochs"))
        switch.check()
        if finished:
            break

    switch.immediate = True  # training is over: a cancel now needs no care
    switch.check()
    chosen = weights / "best.pt" if (weights / "best.pt").is_file() else weights / "last.pt"
    _export_and_complete(chosen, checkpoint.load(chosen), tracker, weights, writer)


def _device(text: str) -> torch.device:
    import torch

    if text == "cpu":
        return torch.device("cpu")
    first = text.split(",")[0]
    if not torch.cuda.is_available():
        raise RuntimeError(f"device {text!r} asks for a GPU, but torch sees no CUDA device here")
    return torch.device(first if first.startswith("cuda") else f"cuda:{first}")


def _optimizer(model: torch.nn.Module, config: Mapping[str, Any]) -> torch.optim.Optimizer:
    import torch

    lr, momentum, decay = float(config["lr"]), float(config["momentum"]), float(config["weight_decay"])
    name = str(config["optimizer"])
    if name == "adamw":
        return torch.optim.AdamW(model.parameters(), lr=lr, betas=(momentum, 0.999), weight_decay=decay)
    if name == "adam":
        return torch.optim.Adam(model.parameters(), lr=lr, betas=(momentum, 0.999), weight_decay=decay)
    if name == "sgd":
        return torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum, weight_decay=decay)
    raise ValueError(f"unknown optimizer {name!r}")


# ---- the end ----------------------------------------------------------------------------------------------------


def _export_and_complete(
    chosen: Path, state: dict[str, Any], tracker: BestTracker, weights: Path, writer: EventWriter
) -> None:
    """Export `chosen` (best.pt, or last.pt when no epoch was best) and report the best epoch."""
    from modelyard.plugins.audio.export import export_onnx
    from modelyard.plugins.audio.model import build_model

    classes = list(state["class_names"])
    params = FeatureParams.from_metadata(str(state["features"]))
    dropout = float(state["config"]["dropout_rate"])
    model = build_model(str(state["architecture"]), len(classes), params.n_mels, dropout)
    model.load_state_dict(state["model"])
    writer.emit(LogLine(line=f"exporting ONNX from {chosen.name} (epoch {state['epoch']})"))
    onnx_path = export_onnx(model, params, classes, str(state["architecture"]), weights / ONNX_NAME)
    writer.emit(Exported(format="onnx", path=str(onnx_path), size=onnx_path.stat().st_size, sha256=_sha256(onnx_path)))
    details = tracker.best_details
    if details:
        report = weights / EVALUATION_NAME
        report.write_text(json.dumps({"epoch": tracker.best_epoch, **details}, indent=2) + "\n", encoding="utf-8")
        writer.emit(
            ArtifactWritten(name=EVALUATION_NAME, path=str(report), size=report.stat().st_size, sha256=_sha256(report))
        )
    final: dict[str, Any] = {key: details[key] for key in ("accuracy", "macro_f1", "val_loss") if key in details}
    writer.emit(Completed(best_epoch=tracker.best_epoch, metrics=clean_metrics(final), framework_version=_version()))


def _finish_from_checkpoint(resume_from: Path, state: dict[str, Any], weights: Path, writer: EventWriter) -> None:
    """The earlier attempt finished training but died before it reported completion: export instead of training
    again, from the best.pt beside its last.pt when there is one."""
    from modelyard.plugins.audio import checkpoint

    epochs = int(state["epochs"])
    writer.emit(Started(epochs=epochs, resumed_from_epoch=epochs))
    writer.emit(LogLine(line=f"{resume_from} holds a finished training: exporting it"))
    tracker = BestTracker(patience=0)
    tracker.load_state_dict(state["tracker"])
    source = resume_from.with_name("best.pt") if resume_from.with_name("best.pt").is_file() else resume_from
    target = weights / source.name
    if source.resolve() != target.resolve():
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
    _export_and_complete(target, checkpoint.load(target), tracker, weights, writer)


def _carry_best(resume_from: Path, weights: Path) -> None:
    """Resuming into another workdir: bring the earlier attempt's best.pt along, so that best.pt stays the best of
    the whole job even if no later epoch beats it."""
    source = resume_from.with_name("best.pt")
    target = weights / "best.pt"
    if source.is_file() and not target.exists() and source.resolve() != target.resolve():
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _version() -> str:
    import torch

    try:
        own = metadata.version("modelyard-audio")
    except metadata.PackageNotFoundError:
        own = "unknown"
    return f"modelyard-audio {own} (torch {torch.__version__})"


def _exit(code: int) -> NoReturn:
    """Leave without the interpreter's teardown: everything is reported and flushed by now, and finalising torch
    takes a second or two that the worker would spend waiting for the exit status."""
    sys.stdout.flush()
    sys.stderr.flush()
    logging.shutdown()
    os._exit(code)


if __name__ == "__main__":
    _exit(main())
