"""The regress training child as a real subprocess, started through the trainer's framework seam, on 32 px frames:
its event stream, checkpoints, ONNX and predictions table; a SIGKILLed attempt resumed from its last.pt; cancel;
a finished checkpoint exported without training; early stopping; fast failures; the CLI preview's direct mode."""

from __future__ import annotations

import csv
import hashlib
import math
import shlex
import shutil
import signal
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch

from modelyard.frameworks.childrun import ChildRun, launch
from modelyard.frameworks.protocol import EXIT_CANCELLED, EXIT_COMPLETED, EXIT_FAILED, EXIT_USAGE
from modelyard.plugins.regress import preprocess
from modelyard.plugins.regress.data import read_dataset
from modelyard.plugins.regress.fit import EarlyStop, load_checkpoint
from modelyard.plugins.regress.framework import RegressFramework
from modelyard.plugins.regress.train import CRASH_AFTER_EPOCH_ENV
from modelyard.scheduler.presets import resolve

from .conftest import job_spec, make_dataset

pytestmark = pytest.mark.slow

EPOCH_KEYS = {"train/loss", "val/loss", "val/mse", "val/mae", "val/spearman", "lr"}


@pytest.fixture(scope="session")
def finished(dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChildRun]:
    """A 3-epoch job run to completion (several tests look at it)."""
    work = tmp_path_factory.mktemp("finished")
    run = launch(RegressFramework().command(job_spec(dataset, work / "work")), work / "stderr.log")
    run.finish()
    yield run
    if run.process.stdout is not None:
        run.process.stdout.close()


def _onnx_score(path: Path, image: Path, imgsz: int) -> float:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (model_input,) = session.get_inputs()
    assert model_input.shape == [1, 3, imgsz, imgsz]
    (out,) = session.run(None, {model_input.name: preprocess.prepare(preprocess.load(image), imgsz)[None]})
    return float(out.reshape(()))


def test_a_run_reports_each_epoch_its_checkpoints_an_onnx_model_and_completion(
    finished: ChildRun, dataset: Path
) -> None:
    run = finished
    assert run.process.returncode == EXIT_COMPLETED, run.stderr_tail()
    types = [e.type for e in run.events if e.type != "log"]
    assert types[0] == "started" and types[-3:] == ["exported", "artifact", "completed"]
    assert (run.events[0].epochs, run.events[0].resumed_from_epoch) == (3, None)

    epochs = run.of_type("epoch")
    assert [(e.epoch, e.epochs) for e in epochs] == [(1, 3), (2, 3), (3, 3)]
    for e in epochs:
        assert set(e.metrics) == EPOCH_KEYS
        assert e.metrics["train/loss"] > 0 and e.metrics["val/mse"] == pytest.approx(e.metrics["val/loss"])
        assert e.epoch_time_s is not None and e.epoch_time_s > 0
    assert epochs[0].metrics["lr"] == pytest.approx(0.01) and epochs[-1].metrics["lr"] == pytest.approx(0.001)

    # per epoch: epoch, then last; best only when val MSE fell, and best is the lowest val MSE
    sequence = [(e.type, getattr(e, "kind", None), getattr(e, "epoch", None)) for e in run.events if e.type != "log"]
    for epoch in (1, 2, 3):
        at = sequence.index(("epoch", None, epoch))
        assert sequence[at + 1] == ("checkpoint", "last", epoch)
    best = run.of_type("checkpoint")
    best_epochs = [c.epoch for c in best if c.kind == "best"]
    mses = {e.epoch: e.metrics["val/mse"] for e in epochs}
    assert best_epochs[0] == 1
    assert all(mses[b] < min(mses[e] for e in range(1, b)) for b in best_epochs[1:])
    completed = run.events[-1]
    assert completed.best_epoch == best_epochs[-1] == min(mses, key=lambda e: mses[e])
    assert completed.metrics["mse"] == pytest.approx(mses[completed.best_epoch])
    assert set(completed.metrics) == {"mse", "mae", "spearman"}
    assert completed.metrics["spearman"] > 0.5  # the bright square's size is learnt within three epochs
    assert (completed.framework_version or "").startswith("modelyard-regress 0.1.0 (torch 2.")

    last = load_checkpoint(Path(best[-1].path).with_name("last.pt"))
    assert last["epoch"] == 3 and last["optimizer"]["state"] and last["scheduler"]["last_epoch"] == 3

    (exported,) = run.of_type("exported")
    onnx_path = Path(exported.path)
    assert exported.format == "onnx" and onnx_path.name == "model.onnx"
    assert hashlib.sha256(onnx_path.read_bytes()).hexdigest() == exported.sha256
    (artifact,) = run.of_type("artifact")
    assert artifact.name == "val_predictions.csv"
    with Path(artifact.path).open(newline="") as table:
        rows = list(csv.DictReader(table))
    val = read_dataset(dataset).val.samples
    assert [r["name"] for r in rows] == [s.path.name for s in val]
    for row, sample in zip(rows, val, strict=True):  # the table is what the exported model says
        assert float(row["predicted"]) == pytest.approx(_onnx_score(onnx_path, sample.path, 32), abs=1e-5)
        assert float(row["target"]) == pytest.approx(sample.target)


def test_a_killed_attempt_resumes_from_its_last_checkpoint_without_repeating_an_epoch(
    finished: ChildRun, dataset: Path, tmp_path: Path, start_child: Callable[..., ChildRun]
) -> None:
    crashed = start_child(job_spec(dataset, tmp_path / "attempt1"), {CRASH_AFTER_EPOCH_ENV: "1"})
    assert crashed.finish() == -signal.SIGKILL, crashed.stderr_tail()
    assert [e.epoch for e in crashed.of_type("epoch")] == [1]
    (last,) = [c for c in crashed.of_type("checkpoint") if c.kind == "last"]
    assert last.epoch == 1 and not crashed.of_type("completed")

    # The next attempt's worker downloads last.pt and best.pt into its own, fresh workdir.
    resume = tmp_path / "attempt2" / "resume"
    resume.mkdir(parents=True)
    for name in ("last.pt", "best.pt"):
        shutil.copyfile(Path(last.path).with_name(name), resume / name)
    resumed = start_child(job_spec(dataset, tmp_path / "attempt2", resume_from=str(resume / "last.pt")))
    assert resumed.finish() == EXIT_COMPLETED, resumed.stderr_tail()

    started = resumed.of_type("started")[0]
    assert (started.epochs, started.resumed_from_epoch) == (3, 1)
    assert [e.epoch for e in resumed.of_type("epoch")] == [2, 3]
    assert [c.epoch for c in resumed.of_type("checkpoint") if c.kind == "last"] == [2, 3]
    assert all(Path(c.path).is_relative_to(tmp_path / "attempt2") for c in resumed.of_type("checkpoint"))
    # Optimiser, schedule, random state and early-stopping state came along: the job ends as if never killed.
    uninterrupted = {e.epoch: e.metrics for e in finished.of_type("epoch")}
    for e in resumed.of_type("epoch"):
        assert e.metrics == pytest.approx(uninterrupted[e.epoch], abs=1e-6)
    assert resumed.events[-1].best_epoch == finished.events[-1].best_epoch
    assert resumed.events[-1].metrics == pytest.approx(finished.events[-1].metrics, abs=1e-6)

    # Without best.pt beside last.pt (the worker could not fetch it) the next epoch becomes the best.
    alone = tmp_path / "attempt3" / "resume" / "last.pt"
    alone.parent.mkdir(parents=True)
    shutil.copyfile(resume / "last.pt", alone)
    without_best = start_child(job_spec(dataset, tmp_path / "attempt3", resume_from=str(alone)))
    assert without_best.finish() == EXIT_COMPLETED, without_best.stderr_tail()
    assert any("best.pt is not beside last.pt" in e.line for e in without_best.of_type("log"))
    assert [(c.kind, c.epoch) for c in without_best.of_type("checkpoint")][:2] == [("last", 2), ("best", 2)]
    assert without_best.events[-1].best_epoch in (2, 3)


def test_a_finished_checkpoint_is_exported_not_trained_again(
    finished: ChildRun, dataset: Path, tmp_path: Path, start_child: Callable[..., ChildRun]
) -> None:
    """The attempt that trained died before it reported completion; the next one gets the final last.pt."""
    final = Path(finished.of_type("checkpoint")[-1].path).with_name("last.pt")
    resume = tmp_path / "work" / "resume"
    resume.mkdir(parents=True)
    for name in ("last.pt", "best.pt"):
        shutil.copyfile(final.with_name(name), resume / name)
    run = start_child(job_spec(dataset, tmp_path / "work", resume_from=str(resume / "last.pt")))
    assert run.finish() == EXIT_COMPLETED, run.stderr_tail()
    assert [e.type for e in run.events if e.type != "log"] == ["started", "exported", "artifact", "completed"]
    assert (run.events[0].epochs, run.events[0].resumed_from_epoch) == (3, 3)
    assert run.events[-1].best_epoch == finished.events[-1].best_epoch
    assert run.events[-1].metrics == pytest.approx(finished.events[-1].metrics)
    (exported,) = run.of_type("exported")
    assert Path(exported.path).is_relative_to(tmp_path / "work")
    assert exported.sha256 == finished.of_type("exported")[0].sha256  # the same best.pt, the same model


def test_sigterm_stops_training_within_seconds_with_a_cancelled_event(
    dataset: Path, tmp_path: Path, start_child: Callable[..., ChildRun]
) -> None:
    run = start_child(job_spec(dataset, tmp_path / "work", epochs=500))
    run.read_until(lambda e: e.type == "epoch")  # now training
    sent = time.monotonic()
    run.process.send_signal(signal.SIGTERM)
    code = run.finish(timeout=30)
    took = time.monotonic() - sent
    assert code == EXIT_CANCELLED, run.stderr_tail()
    assert took < 5, f"took {took:.1f} s to stop"
    cancelled = run.events[-1]
    assert cancelled.type == "cancelled" and cancelled.signal == "SIGTERM"
    assert cancelled.epoch == run.of_type("epoch")[-1].epoch < 500
    assert not run.of_type("completed") and not run.of_type("exported")
    assert load_checkpoint(tmp_path / "work" / "weights" / "last.pt")["epoch"] == cancelled.epoch  # never torn


def test_early_stopping_ends_at_the_first_epoch_past_patience(
    dataset: Path, tmp_path: Path, start_child: Callable[..., ChildRun]
) -> None:
    run = start_child(job_spec(dataset, tmp_path / "work", epochs=6, patience=1, lr=0.05))
    assert run.finish() == EXIT_COMPLETED, run.stderr_tail()
    mses = [e.metrics["val/mse"] for e in run.of_type("epoch")]
    best_so_far = [min(mses[: i + 1]) for i in range(len(mses))]
    first_miss = next((i for i in range(1, len(mses)) if mses[i] >= best_so_far[i - 1]), None)
    if first_miss is None:
        assert len(mses) == 6  # improved every epoch: nothing to stop
    else:
        assert len(mses) == first_miss + 1
        assert any("stopping early" in e.line for e in run.of_type("log"))
    assert run.events[-1].best_epoch == 1 + int(np.argmin(mses))


def test_early_stop_state_counts_epochs_without_a_lower_mse() -> None:
    stop = EarlyStop()
    assert stop.update(1, {"mse": 0.3}, patience=2)
    assert not stop.update(2, {"mse": float("nan")}, patience=2) and stop.to_dict()["stopped"] is False
    assert stop.update(3, {"mse": 0.2}, patience=2) and stop.bad_epochs == 0
    assert not stop.update(4, {"mse": 0.2}, patience=2)  # equal is not lower
    assert not stop.update(5, {"mse": 0.25}, patience=2) and stop.stopped
    assert (stop.best_epoch, stop.best_mse) == (3, 0.2)
    assert EarlyStop.from_dict(stop.to_dict()) == stop
    never = EarlyStop()
    for epoch in range(1, 50):
        never.update(epoch, {"mse": 1.0}, patience=0)
    assert not never.stopped and math.isfinite(never.best_mse)


def test_a_job_that_cannot_start_fails_fast_with_the_reason(
    dataset: Path, tmp_path: Path, start_child: Callable[..., ChildRun]
) -> None:
    started = time.monotonic()
    run = start_child(job_spec(tmp_path / "missing" / "data.yaml", tmp_path / "work"))
    assert run.finish(timeout=30) == EXIT_FAILED
    (failed,) = run.events
    assert failed.type == "failed" and "does not exist" in failed.error
    assert time.monotonic() - started < 5  # checked before torch is imported

    run = start_child(job_spec(dataset, tmp_path / "work", optimizer="lion"))
    assert run.finish(timeout=30) == EXIT_FAILED
    assert "optimizer: must be one of adam, adamw, sgd" in run.events[-1].error

    spec_file = tmp_path / "broken.json"
    spec_file.write_text("{not json")
    run = start_child([sys.executable, "-m", "modelyard.plugins.regress.train", "--spec", str(spec_file)])
    assert run.finish(timeout=30) == EXIT_USAGE
    assert "cannot read train job spec" in run.events[-1].error


def test_frames_that_are_not_images_fail_the_job_naming_the_file(
    tmp_path: Path, start_child: Callable[..., ChildRun]
) -> None:
    data = make_dataset(tmp_path / "data", train=4, val=2)
    (tmp_path / "data" / "train" / "train_002.png").write_bytes(b"timestamp,temperature\n")
    run = start_child(job_spec(data, tmp_path / "work"))
    assert run.finish(timeout=60) == EXIT_FAILED
    assert "train_002.png" in run.events[-1].error and "not a decodable image" in run.events[-1].error


def test_the_cli_preview_trains_the_resolved_config(
    dataset: Path, tmp_path: Path, start_child: Callable[..., ChildRun]
) -> None:
    overrides = {"epochs": 1, "imgsz": 32, "batch": 8, "width": 4, "optimizer": "sgd", "lr": 0.05}
    preview = resolve("regress", "regress", "developer", overrides).cli_preview
    command = preview.replace("<dataset.yaml>", str(dataset)).replace("<workdir>", str(tmp_path / "work"))
    argv = shlex.split(command)
    assert argv[0] == "python"
    run = start_child([sys.executable, *argv[1:]])
    assert run.finish() == EXIT_COMPLETED, run.stderr_tail()
    assert [e.epoch for e in run.of_type("epoch")] == [1]
    checkpoint = load_checkpoint(tmp_path / "work" / "weights" / "last.pt")
    assert {k: checkpoint["config"][k] for k in overrides} == overrides
    assert checkpoint["model"]["head.weight"].shape == torch.Size([1, 16])  # width 4: 4 * 4 channels pooled
