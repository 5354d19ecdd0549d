"""The training child as a real subprocess through the framework seam, on tiny tone datasets (3 classes x 10 clips of
0.5 s at 8 kHz; 40 x 32 log-mel): the protocol's events, a crash and resume that repeats no epoch, a cancel, and
failures that are reported with their reason."""

from __future__ import annotations

import hashlib
import json
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from modelyard.frameworks.childrun import ChildRun
from modelyard.frameworks.protocol import EXIT_CANCELLED, EXIT_COMPLETED, EXIT_FAILED, EXIT_USAGE, parse_event
from modelyard.plugins.audio.framework import CHILD_MODULE

from .conftest import TONES, job_spec, make_dataset, tone, wav_bytes

pytestmark = pytest.mark.slow  # each test starts one or more children that import torch

EPOCH_KEYS = {"train_loss", "train_accuracy", "val_loss", "val_accuracy", "val_macro_f1", "learning_rate"}
Start = Callable[..., ChildRun]


def _check_onnx(exported: Any) -> None:
    path = Path(exported.path)
    data = path.read_bytes()
    assert len(data) == exported.size and hashlib.sha256(data).hexdigest() == exported.sha256


def test_a_run_reports_epochs_checkpoints_an_onnx_model_and_its_evaluation(
    dataset_yaml: Path, tmp_path: Path, start_child: Start
) -> None:
    run = start_child(job_spec(dataset_yaml, tmp_path / "work", epochs=4))
    assert run.finish() == EXIT_COMPLETED, run.stderr_tail()

    types = [e.type for e in run.events if e.type != "log"]
    assert types[0] == "started" and types[-3:] == ["exported", "artifact", "completed"]
    assert run.of_type("started")[0].resumed_from_epoch is None
    epochs = run.of_type("epoch")
    assert [(e.epoch, e.epochs) for e in epochs] == [(1, 4), (2, 4), (3, 4), (4, 4)]
    for e in epochs:
        assert set(e.metrics) == EPOCH_KEYS and all(v is not None for v in e.metrics.values())
        assert e.epoch_time_s is not None and e.epoch_time_s > 0
    rates = [e.metrics["learning_rate"] for e in epochs]
    assert rates[0] == pytest.approx(0.0015) and rates[1] == pytest.approx(0.003)  # warmup 1 epoch, then the peak
    assert rates[1] > rates[2] > rates[3]  # cosine decay
    assert epochs[-1].metrics["train_loss"] < epochs[0].metrics["train_loss"]

    checkpoints = run.of_type("checkpoint")
    assert [c.epoch for c in checkpoints if c.kind == "last"] == [1, 2, 3, 4]
    best = [c.epoch for c in checkpoints if c.kind == "best"]
    assert best and best[0] == 1
    for c in checkpoints:
        assert Path(c.path).is_relative_to(tmp_path / "work") and Path(c.path).name == f"{c.kind}.pt"
    (exported,) = run.of_type("exported")
    assert exported.format == "onnx"
    _check_onnx(exported)

    completed = run.events[-1]
    assert completed.best_epoch == best[-1]
    best_epoch = epochs[completed.best_epoch - 1].metrics
    assert completed.metrics["accuracy"] == best_epoch["val_accuracy"] >= 0.8
    assert completed.metrics["macro_f1"] == best_epoch["val_macro_f1"]
    assert (completed.framework_version or "").startswith("modelyard-audio 0.1.0 (torch 2.")
    (artifact,) = run.of_type("artifact")
    report = json.loads(Path(artifact.path).read_text())
    assert artifact.name == "evaluation.json" and report["epoch"] == completed.best_epoch
    assert report["class_names"] == ["low", "mid", "high"] and np.array(report["confusion"]).sum() == 9
    assert [row["support"] for row in report["per_class"]] == [3, 3, 3]


def test_crashed_child_resumes_from_last_checkpoint_without_repeating_epochs(
    dataset_yaml: Path, tmp_path: Path, start_child: Start
) -> None:
    spec: dict[str, Any] = {
        "epochs": 3,
        "lr_scheduler": "step",
        "lr_step_epochs": 1,
        "lr_decay_factor": 0.5,
        "dropout_rate": 0.3,
    }
    whole = start_child(job_spec(dataset_yaml, tmp_path / "whole", **spec))
    crashed = start_child(
        job_spec(dataset_yaml, tmp_path / "attempt1", **spec), extra_env={"MODELYARD_TEST_CRASH_AFTER_EPOCH": "1"}
    )
    assert crashed.finish() == -signal.SIGKILL, crashed.stderr_tail()
    assert [e.epoch for e in crashed.of_type("epoch")] == [1]
    assert not crashed.of_type("completed") and not crashed.of_type("exported")
    last = [c for c in crashed.of_type("checkpoint") if c.kind == "last"]
    assert [c.epoch for c in last] == [1]

    # The worker of the next attempt downloads last.pt (and best.pt beside it) into its own, fresh workdir.
    resume_from = tmp_path / "attempt2" / "resume" / "last.pt"
    resume_from.parent.mkdir(parents=True)
    shutil.copyfile(last[0].path, resume_from)
    shutil.copyfile(Path(last[0].path).with_name("best.pt"), resume_from.with_name("best.pt"))
    resumed = start_child(job_spec(dataset_yaml, tmp_path / "attempt2", resume_from=str(resume_from), **spec))
    assert resumed.finish() == EXIT_COMPLETED, resumed.stderr_tail()

    started = resumed.of_type("started")[0]
    assert (started.epochs, started.resumed_from_epoch) == (3, 1)
    assert [e.epoch for e in resumed.of_type("epoch")] == [2, 3]
    assert [c.epoch for c in resumed.of_type("checkpoint") if c.kind == "last"] == [2, 3]
    for checkpoint in resumed.of_type("checkpoint"):
        assert Path(checkpoint.path).is_relative_to(tmp_path / "attempt2")
    _check_onnx(resumed.of_type("exported")[0])
    assert resumed.events[-1].type == "completed"

    # Weights, optimiser, schedule and random state came back: epochs 2 and 3 are those of an uninterrupted run.
    assert whole.finish() == EXIT_COMPLETED, whole.stderr_tail()
    uninterrupted = {e.epoch: e.metrics for e in whole.of_type("epoch")}
    for e in resumed.of_type("epoch"):
        assert e.metrics["learning_rate"] == pytest.approx(0.003 * 0.5 ** (e.epoch - 2))
        for key in EPOCH_KEYS:
            assert e.metrics[key] == pytest.approx(uninterrupted[e.epoch][key], rel=1e-4, abs=1e-6), (e.epoch, key)


def test_a_finished_checkpoint_is_exported_not_trained_again(
    dataset_yaml: Path, tmp_path: Path, start_child: Start
) -> None:
    first = start_child(job_spec(dataset_yaml, tmp_path / "first", epochs=2))
    assert first.finish() == EXIT_COMPLETED, first.stderr_tail()
    final_last = [c for c in first.of_type("checkpoint") if c.kind == "last"][-1]

    again = start_child(job_spec(dataset_yaml, tmp_path / "again", epochs=2, resume_from=final_last.path))
    assert again.finish() == EXIT_COMPLETED, again.stderr_tail()
    assert [e.type for e in again.events if e.type != "log"] == ["started", "exported", "artifact", "completed"]
    assert (again.events[0].epochs, again.events[0].resumed_from_epoch) == (2, 2)
    assert Path(again.of_type("exported")[0].path).is_relative_to(tmp_path / "again")
    assert again.events[-1].best_epoch == first.events[-1].best_epoch
    assert again.events[-1].metrics == first.events[-1].metrics


def test_early_stopping_ends_the_run_after_patience_epochs_without_improvement(
    dataset_yaml: Path, tmp_path: Path, start_child: Start
) -> None:
    # A learning rate too small to learn anything: accuracy stays where it starts, so no epoch beats epoch 1.
    run = start_child(
        job_spec(dataset_yaml, tmp_path / "work", epochs=30, early_stop_patience=2, lr=1e-9, warmup_epochs=0)
    )
    assert run.finish() == EXIT_COMPLETED, run.stderr_tail()
    epochs = [e.epoch for e in run.of_type("epoch")]
    assert len(epochs) < 30
    assert any("stopping early" in e.line for e in run.of_type("log"))
    assert run.events[-1].best_epoch == epochs[-1] - 2


def test_sigterm_stops_training_within_seconds_with_a_cancelled_event(tmp_path: Path, start_child: Start) -> None:
    data = make_dataset(tmp_path / "big", train=60, val=5)
    run = start_child(job_spec(data, tmp_path / "work", epochs=500, batch_size=4))
    run.read_until(lambda e: e.type == "epoch")  # now training
    sent = time.monotonic()
    run.process.send_signal(signal.SIGTERM)
    code = run.finish(timeout=30)
    took = time.monotonic() - sent

    assert code == EXIT_CANCELLED, run.stderr_tail()
    assert took < 5, f"took {took:.1f} s to stop"
    cancelled = run.events[-1]
    assert cancelled.type == "cancelled" and cancelled.signal == "SIGTERM"
    assert cancelled.epoch == run.of_type("epoch")[-1].epoch
    assert not run.of_type("completed") and not run.of_type("exported")


def test_a_bad_feature_combination_fails_at_once_naming_it(
    dataset_yaml: Path, tmp_path: Path, start_child: Start
) -> None:
    sent = time.monotonic()
    run = start_child(job_spec(dataset_yaml, tmp_path / "work", n_fft=128, n_mels=80))
    assert run.finish() == EXIT_FAILED
    assert time.monotonic() - sent < 10  # before torch is imported
    (failed,) = run.events
    assert failed.type == "failed" and "n_mels must be between 1 and n_fft // 2 + 1 = 65" in failed.error


def test_clips_at_another_sample_rate_fail_the_run_naming_them(tmp_path: Path, start_child: Start) -> None:
    data = make_dataset(tmp_path / "data", train=2, val=1)
    (data.parent / "train" / "mid" / "odd.wav").write_bytes(wav_bytes(tone(TONES["mid"], rate=16000), rate=16000))
    run = start_child(job_spec(data, tmp_path / "work"))
    assert run.finish() == EXIT_FAILED
    error = run.events[-1].error
    assert "1 clip(s) cannot be used: train/mid/odd.wav: the clip is sampled at 16000 Hz" in error
    assert "expects 8000 Hz" in error and not run.of_type("started")


def test_an_unreadable_spec_is_a_usage_error(tmp_path: Path) -> None:
    spec = tmp_path / "trainjob.json"
    spec.write_text("{not json")
    argv = [sys.executable, "-m", CHILD_MODULE, "--spec", str(spec)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == EXIT_USAGE
    (event,) = [parse_event(line) for line in done.stdout.splitlines()]
    assert event.type == "failed" and f"cannot read train job spec {spec}" in event.error
