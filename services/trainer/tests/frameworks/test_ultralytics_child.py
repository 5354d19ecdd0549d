"""The Ultralytics training child, run as a real subprocess through the framework seam on tiny synthetic data.

Each test trains a YOLO11n from its YAML on CPU for one to three epochs of 64 px (or 32 px) images.
"""

from __future__ import annotations

import dataclasses
import hashlib
import shutil
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from modelyard.frameworks.protocol import EXIT_CANCELLED, EXIT_COMPLETED, EXIT_FAILED, Completed
from modelyard.trainer.frameworks import TrainJobSpec

pytestmark = pytest.mark.slow

DETECT_EPOCH_KEYS = {
    "train/box_loss",
    "train/cls_loss",
    "train/dfl_loss",
    "val/box_loss",
    "val/cls_loss",
    "val/dfl_loss",
    "metrics/precision(B)",
    "metrics/recall(B)",
    "metrics/mAP50(B)",
    "metrics/mAP50-95(B)",
    "lr/pg0",
    "fitness",
}


def assert_onnx_runs(exported: Any, imgsz: int) -> None:
    import onnxruntime as ort

    path = Path(exported.path)
    data = path.read_bytes()
    assert len(data) == exported.size
    assert hashlib.sha256(data).hexdigest() == exported.sha256
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (model_input,) = session.get_inputs()
    assert model_input.shape == [1, 3, imgsz, imgsz]
    outputs = session.run(None, {model_input.name: np.zeros((1, 3, imgsz, imgsz), dtype=np.float32)})
    assert outputs
    assert outputs[0].shape[0] == 1


def assert_offline(stderr: str) -> None:
    assert "Downloading" not in stderr
    assert "ProxyError" not in stderr


def test_detect_run_reports_each_epoch_its_checkpoints_and_a_working_onnx(finished_detect_run: Any) -> None:
    run = finished_detect_run
    assert run.process.returncode == EXIT_COMPLETED, run.stderr_tail()
    work = Path(run.of_type("exported")[0].path).parents[2]  # .../work/train/weights/best.onnx

    types = [e.type for e in run.events]
    assert types[0] == "started"
    assert types[-2:] == ["exported", "completed"]
    started = run.events[0]
    assert (started.epochs, started.resumed_from_epoch) == (2, None)

    epochs = run.of_type("epoch")
    assert [(e.epoch, e.epochs) for e in epochs] == [(1, 2), (2, 2)]
    for e in epochs:
        assert set(e.metrics) >= DETECT_EPOCH_KEYS
        assert e.metrics["train/box_loss"] is not None
        assert e.epoch_time_s is not None
        assert e.epoch_time_s > 0

    last = [c for c in run.of_type("checkpoint") if c.kind == "last"]
    assert [c.epoch for c in last] == [1, 2]
    for checkpoint in run.of_type("checkpoint"):
        assert Path(checkpoint.path).is_file()
        assert Path(checkpoint.path).is_relative_to(work)
    # Each epoch's checkpoints follow its epoch event.
    assert types.index("checkpoint") > types.index("epoch")
    final_last = last[-1]
    assert final_last.size == Path(final_last.path).stat().st_size  # reported after Ultralytics rewrote it

    (exported,) = run.of_type("exported")
    assert exported.format == "onnx"
    assert_onnx_runs(exported, 64)

    completed = run.events[-1]
    assert completed.best_epoch in {1, 2}
    assert "metrics/mAP50-95(B)" in completed.metrics
    assert isinstance(completed, Completed) and (completed.framework_version or "").startswith("ultralytics 8.")
    assert_offline(run.stderr_tail(200_000))
    settings = work / "ultralytics-config" / "Ultralytics"
    assert (settings / "settings.json").is_file()
    assert (settings / "Arial.ttf").is_file()


def test_a_finished_checkpoint_is_exported_not_trained_again(
    finished_detect_run: Any,
    detect_data: Path,
    tmp_path: Path,
    start_child: Callable[..., Any],
    detect_spec: Callable[..., TrainJobSpec],
) -> None:
    """The attempt that trained died before it reported completion; the next one is handed the final last.pt."""
    (final_last,) = [c for c in finished_detect_run.of_type("checkpoint") if c.kind == "last" and c.epoch == 2]
    run = start_child(detect_spec(detect_data, tmp_path / "work", epochs=2, resume_from=final_last.path))
    assert run.finish() == EXIT_COMPLETED, run.stderr_tail()

    assert [e.type for e in run.events if e.type != "log"] == ["started", "exported", "completed"]
    assert (run.events[0].epochs, run.events[0].resumed_from_epoch) == (2, 2)
    (exported,) = run.of_type("exported")
    assert Path(exported.path).is_relative_to(tmp_path / "work")
    assert_onnx_runs(exported, 64)


def test_crashed_trainer_job_resumes_from_last_checkpoint_without_repeating_epochs(
    detect_data: Path, tmp_path: Path, start_child: Callable[..., Any], detect_spec: Callable[..., TrainJobSpec]
) -> None:
    crashed = start_child(
        detect_spec(detect_data, tmp_path / "attempt1", epochs=3),
        extra_env={"MODELYARD_TEST_CRASH_AFTER_EPOCH": "1"},
    )
    assert crashed.finish() == -signal.SIGKILL, crashed.stderr_tail()
    assert [e.epoch for e in crashed.of_type("epoch")] == [1]
    assert not crashed.of_type("completed")
    (last,) = [c for c in crashed.of_type("checkpoint") if c.kind == "last"]
    assert last.epoch == 1

    # The worker of the next attempt downloads last.pt into its own, fresh workdir.
    resume_from = tmp_path / "attempt2" / "resume" / "last.pt"
    resume_from.parent.mkdir(parents=True)
    shutil.copyfile(last.path, resume_from)
    resumed = start_child(detect_spec(detect_data, tmp_path / "attempt2", epochs=3, resume_from=str(resume_from)))
    assert resumed.finish() == EXIT_COMPLETED, resumed.stderr_tail()

    started = resumed.of_type("started")[0]
    assert (started.epochs, started.resumed_from_epoch) == (3, 1)
    assert [e.epoch for e in resumed.of_type("epoch")] == [2, 3]
    assert [c.epoch for c in resumed.of_type("checkpoint") if c.kind == "last"] == [2, 3]
    for checkpoint in resumed.of_type("checkpoint"):
        assert Path(checkpoint.path).is_relative_to(tmp_path / "attempt2")
    (exported,) = resumed.of_type("exported")
    assert Path(exported.path).is_file()
    assert resumed.events[-1].type == "completed"


def test_sigterm_stops_training_within_seconds_with_a_cancelled_event(
    detect_data: Path, tmp_path: Path, start_child: Callable[..., Any], detect_spec: Callable[..., TrainJobSpec]
) -> None:
    run = start_child(detect_spec(detect_data, tmp_path / "work", epochs=20))
    run.read_until(lambda e: e.type == "started")  # now in epoch 1
    sent = time.monotonic()
    run.process.send_signal(signal.SIGTERM)
    code = run.finish(timeout=30)
    took = time.monotonic() - sent

    assert code == EXIT_CANCELLED, run.stderr_tail()
    assert took < 5, f"took {took:.1f} s to stop"
    assert run.events[-1].type == "cancelled"
    assert run.events[-1].signal == "SIGTERM"
    assert len(run.of_type("epoch")) < 20
    assert not run.of_type("completed")
    assert not run.of_type("exported")


def test_classify_trains_an_epoch_from_class_folders_and_exports_onnx(
    classify_data: Path, tmp_path: Path, start_child: Callable[..., Any]
) -> None:
    spec = TrainJobSpec(
        job_id="job-cls",
        attempt=1,
        task="classify",
        dataset_yaml=str(classify_data),
        workdir=str(tmp_path / "work"),
        config={"model": "yolo11n-cls.yaml", "epochs": 1, "imgsz": 32, "batch": 4, "workers": 0},
    )
    run = start_child(spec)
    assert run.finish() == EXIT_COMPLETED, run.stderr_tail()

    (epoch,) = run.of_type("epoch")
    assert (epoch.epoch, epoch.epochs) == (1, 1)
    assert {"train/loss", "metrics/accuracy_top1", "metrics/accuracy_top5", "fitness"} <= set(epoch.metrics)
    assert [c.epoch for c in run.of_type("checkpoint") if c.kind == "last"] == [1]
    (exported,) = run.of_type("exported")
    assert_onnx_runs(exported, 32)
    assert run.events[-1].type == "completed"
    assert "metrics/accuracy_top1" in run.events[-1].metrics


def test_segment_trains_an_epoch_from_polygons_and_exports_onnx(
    segment_data: Path, tmp_path: Path, start_child: Callable[..., Any], detect_spec: Callable[..., TrainJobSpec]
) -> None:
    detect = detect_spec(segment_data, tmp_path / "work", epochs=1, model="yolo11n-seg.yaml")
    spec = TrainJobSpec.from_dict({**dataclasses.asdict(detect), "task": "segment"})
    run = start_child(spec)
    assert run.finish() == EXIT_COMPLETED, run.stderr_tail()

    (epoch,) = run.of_type("epoch")
    assert {"train/seg_loss", "metrics/mAP50-95(M)", "metrics/mAP50-95(B)"} <= set(epoch.metrics)
    (exported,) = run.of_type("exported")
    assert_onnx_runs(exported, 64)
    assert run.events[-1].type == "completed"


def test_a_job_that_cannot_start_fails_fast_with_the_reason(
    detect_data: Path, tmp_path: Path, start_child: Callable[..., Any], detect_spec: Callable[..., TrainJobSpec]
) -> None:
    run = start_child(detect_spec(tmp_path / "missing" / "data.yaml", tmp_path / "work"))
    assert run.finish(timeout=30) == EXIT_FAILED
    (failed,) = run.events
    assert failed.type == "failed"
    assert "does not exist" in failed.error

    # Offline, weights are never downloaded: a .pt name that is not a local file is an error, not a download.
    run = start_child(detect_spec(detect_data, tmp_path / "work2", model="yolo11n.pt"))
    assert run.finish(timeout=30) == EXIT_FAILED
    (failed,) = run.events
    assert "not a local file" in failed.error
