"""The training child as a real subprocess through the framework seam, on a small synthetic dataset: each model's
events, checkpoints, ONNX, evaluation and plots; the evaluation against an independent computation; a crash and a
SIGKILL in the middle of training, each resumed without repeating an epoch; a finished checkpoint; cancel; errors."""

from __future__ import annotations

import hashlib
import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import pytest
import torch

from modelyard.frameworks.childrun import ChildRun
from modelyard.frameworks.protocol import EXIT_CANCELLED, EXIT_COMPLETED, EXIT_FAILED, EXIT_USAGE, parse_event
from modelyard.plugins.forecast.features import METADATA_KEY, ForecastSpec
from modelyard.plugins.forecast.metrics import METRICS
from modelyard.plugins.forecast.series import load_dataset
from modelyard.plugins.forecast.train import CRASH_AFTER_EPOCH_ENV, resolve_config
from modelyard.plugins.forecast.windows import prepare

from .conftest import FAST, FinishedRun, job_spec, make_dataset
from .test_forecast_metrics import assert_same, reference

pytestmark = pytest.mark.slow

ARTIFACTS = {
    "evaluation.json",
    "evaluation.csv",
    "violin_temperature.png",
    "forecast_temperature.png",
    "violin_load.png",
    "forecast_load.png",
}
COMPLETED_METRICS = {m.lower() for m in METRICS} | {"val_loss"}


def assert_artifacts(run: ChildRun) -> dict[str, Path]:
    found = {a.name: Path(a.path) for a in run.of_type("artifact")}
    assert set(found) == ARTIFACTS
    for artifact in run.of_type("artifact"):
        data = Path(artifact.path).read_bytes()
        assert len(data) == artifact.size and hashlib.sha256(data).hexdigest() == artifact.sha256
        if artifact.name.endswith(".png"):
            assert data.startswith(b"\x89PNG\r\n\x1a\n")
    return found


@pytest.mark.parametrize("model", ["linear", "svr", "mlp"])
def test_each_model_trains_exports_evaluates_and_completes(finished_runs: dict[str, FinishedRun], model: str) -> None:
    run = finished_runs[model].run
    assert run.process.returncode == EXIT_COMPLETED, run.stderr_tail()
    types = [e.type for e in run.events if e.type != "log"]
    epochs = 3 if model == "mlp" else 1
    assert types[0] == "started"
    started = run.of_type("started")[0]
    assert (started.epochs, started.resumed_from_epoch) == (epochs, None)
    assert [(e.epoch, e.epochs) for e in run.of_type("epoch")] == [(n, epochs) for n in range(1, epochs + 1)]
    assert [c.epoch for c in run.of_type("checkpoint") if c.kind == "last"] == list(range(1, epochs + 1))
    assert types[-8:] == ["exported", *["artifact"] * 6, "completed"]
    for event in run.of_type("epoch"):
        assert {"train/loss", "val/loss", "val/mae", "val/rmse", "val/mase"} <= set(event.metrics)
        assert event.metrics["val/loss"] is not None and event.epoch_time_s is not None
        # each epoch's checkpoints follow its epoch event
        index = run.events.index(event)
        assert run.events[index + 1].type == "checkpoint" and run.events[index + 1].epoch == event.epoch
    if model == "mlp":
        assert all("lr/pg0" in e.metrics for e in run.of_type("epoch"))
    for checkpoint in run.of_type("checkpoint"):
        assert Path(checkpoint.path).stat().st_size > 0
    completed = run.events[-1]
    assert set(completed.metrics) == COMPLETED_METRICS
    best_val = min(e.metrics["val/loss"] for e in run.of_type("epoch"))
    assert completed.metrics["val_loss"] == pytest.approx(best_val)
    assert completed.best_epoch == next(e.epoch for e in run.of_type("epoch") if e.metrics["val/loss"] == best_val)
    assert completed.framework_version.startswith("modelyard-forecast 0.1.0 (")
    assert_artifacts(run)


@pytest.mark.parametrize("model", ["linear", "mlp"])
def test_the_evaluation_matches_an_independent_computation_on_the_exported_model(
    finished_runs: dict[str, FinishedRun], series_data: Path, model: str
) -> None:
    run = finished_runs[model].run
    (exported,) = run.of_type("exported")
    session = ort.InferenceSession(exported.path, providers=["CPUExecutionProvider"])
    spec = ForecastSpec.from_json(session.get_modelmeta().custom_metadata_map[METADATA_KEY])
    prepared = prepare(load_dataset(series_data), resolve_config(FAST | {"model": model}), spec)
    scaled = np.asarray(session.run(None, {"input": prepared.val.x.astype(np.float32)})[0], dtype=np.float64)
    predicted = spec.unscale(scaled.reshape(-1, 3, 2))
    actual = spec.unscale(prepared.val.y.reshape(-1, 3, 2))
    train_rows = prepared.train_values
    naive = [float(np.mean(np.abs(np.diff(train_rows[:, c])))) for c in range(2)]
    artifacts = assert_artifacts(run)
    report = json.loads(artifacts["evaluation.json"].read_text())
    assert report["windows"] == {"train": len(prepared.train), "val": len(prepared.val)}
    table = report["table"]
    assert len(table) == 2 * 3
    for row in table:
        c, h = spec.columns.index(row["variable"]), row["step"] - 1
        assert row["delta_minutes"] == 60.0 * (h + 1)
        expected = reference(list(actual[:, h, c]), list(predicted[:, h, c]), naive[c])
        for name in METRICS:
            assert row[name] == pytest.approx(expected[name], rel=1e-9), (row["variable"], row["step"], name)
    csv_lines = artifacts["evaluation.csv"].read_text().splitlines()
    assert csv_lines[0] == "variable,step,delta_minutes,MAE,MAPE,MSE,RMSE,NRMSE,WAPE,sMAPE,MASE" and len(csv_lines) == 7
    pooled_naive = float(np.mean([np.mean(np.abs(np.diff(spec.scale(train_rows)[:, c]))) for c in range(2)]))
    overall = reference(list(prepared.val.y.ravel()), list(scaled.ravel()), pooled_naive)
    completed = run.events[-1].metrics
    assert_same({k: completed[k.lower()] for k in METRICS}, overall, rel=1e-9)


def test_a_crashed_mlp_resumes_from_last_pt_without_repeating_epochs(
    finished_runs: dict[str, FinishedRun], series_data: Path, tmp_path: Path, start_child: Any
) -> None:
    crashed = start_child(job_spec(series_data, tmp_path / "attempt1", model="mlp"), {CRASH_AFTER_EPOCH_ENV: "1"})
    assert crashed.finish() == -signal.SIGKILL, crashed.stderr_tail()
    assert [e.epoch for e in crashed.of_type("epoch")] == [1]
    (last,) = [c for c in crashed.of_type("checkpoint") if c.kind == "last"]
    # the trainer of the next attempt downloads last.pt (and best.pt beside it) into its own workdir
    resume = tmp_path / "attempt2" / "resume" / "last.pt"
    resume.parent.mkdir(parents=True)
    shutil.copyfile(last.path, resume)
    shutil.copyfile(Path(last.path).with_name("best.pt"), resume.with_name("best.pt"))
    resumed = start_child(job_spec(series_data, tmp_path / "attempt2", str(resume), model="mlp"))
    assert resumed.finish() == EXIT_COMPLETED, resumed.stderr_tail()
    started = resumed.of_type("started")[0]
    assert (started.epochs, started.resumed_from_epoch) == (3, 1)
    assert [e.epoch for e in resumed.of_type("epoch")] == [2, 3]
    assert [c.epoch for c in resumed.of_type("checkpoint") if c.kind == "last"] == [2, 3]
    for checkpoint in resumed.of_type("checkpoint"):
        assert Path(checkpoint.path).is_relative_to(tmp_path / "attempt2")
    assert resumed.events[-1].type == "completed" and resumed.events[-1].best_epoch in (1, 2, 3)
    # model, optimizer, schedule and shuffling state all came back: epochs 2 and 3 went exactly as in the
    # uninterrupted run of the same job
    straight = {e.epoch: e.metrics for e in finished_runs["mlp"].run.of_type("epoch")}
    for event in resumed.of_type("epoch"):
        for key in ("train/loss", "val/loss", "lr/pg0"):
            assert event.metrics[key] == pytest.approx(straight[event.epoch][key], rel=1e-5), (event.epoch, key)


def test_sigkill_mid_training_then_a_new_attempt_goes_on_from_the_last_pt_it_left(
    series_data: Path, tmp_path: Path, start_child: Any
) -> None:
    first = start_child(job_spec(series_data, tmp_path / "attempt1", model="mlp", epochs=12))
    first.read_until(lambda e: e.type == "checkpoint" and e.kind == "last")
    first.process.send_signal(signal.SIGKILL)
    assert first.finish() == -signal.SIGKILL
    assert not first.of_type("completed")
    resume = tmp_path / "attempt2" / "resume" / "last.pt"
    resume.parent.mkdir(parents=True)
    shutil.copyfile(tmp_path / "attempt1" / "weights" / "last.pt", resume)  # whichever epoch it had written
    done = torch.load(resume, map_location="cpu", weights_only=True)["epoch"]
    assert 1 <= done < 12
    second = start_child(job_spec(series_data, tmp_path / "attempt2", str(resume), model="mlp", epochs=12))
    assert second.finish() == EXIT_COMPLETED, second.stderr_tail()
    assert second.of_type("started")[0].resumed_from_epoch == done
    assert [e.epoch for e in second.of_type("epoch")] == list(range(done + 1, 13))


@pytest.mark.parametrize("model", ["linear", "mlp"])
def test_a_finished_checkpoint_is_exported_not_trained_again(
    finished_runs: dict[str, FinishedRun], series_data: Path, tmp_path: Path, start_child: Any, model: str
) -> None:
    last = finished_runs[model].workdir / "weights" / "last.pt"
    run = start_child(job_spec(series_data, tmp_path / "work", str(last), model=model))
    assert run.finish() == EXIT_COMPLETED, run.stderr_tail()
    epochs = 3 if model == "mlp" else 1
    assert [e.type for e in run.events if e.type not in ("log", "artifact")] == ["started", "exported", "completed"]
    started = run.of_type("started")[0]
    assert (started.epochs, started.resumed_from_epoch) == (epochs, epochs)
    (exported,) = run.of_type("exported")
    assert Path(exported.path).is_relative_to(tmp_path / "work")
    assert run.events[-1].metrics == pytest.approx(finished_runs[model].run.events[-1].metrics)


def test_sigterm_stops_training_with_a_cancelled_event(series_data: Path, tmp_path: Path, start_child: Any) -> None:
    run = start_child(job_spec(series_data, tmp_path / "work", model="mlp", epochs=10000))
    run.read_until(lambda e: e.type == "epoch")
    sent = time.monotonic()
    run.process.send_signal(signal.SIGTERM)
    assert run.finish(timeout=30) == EXIT_CANCELLED, run.stderr_tail()
    assert time.monotonic() - sent < 5
    assert run.events[-1].type == "cancelled" and run.events[-1].signal == "SIGTERM"
    assert run.events[-1].epoch is not None and run.events[-1].epoch >= 1
    assert not run.of_type("exported")


def test_errors_are_reported_as_failed_events(tmp_path: Path, start_child: Any) -> None:
    small = make_dataset(tmp_path / "small", train_rows=10, val_rows=5)
    run = start_child(job_spec(small, tmp_path / "work", model="linear"))
    assert run.finish() == EXIT_FAILED
    assert run.events[-1].type == "failed" and "too little data" in run.events[-1].error
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    argv = [sys.executable, "-m", "modelyard.plugins.forecast.train", "--spec", str(broken)]
    done = subprocess.run(argv, capture_output=True, timeout=120, check=False)
    assert done.returncode == EXIT_USAGE
    (line,) = done.stdout.decode().splitlines()
    event = parse_event(line)
    assert event.type == "failed" and "cannot read the train job" in event.error
