"""The framework seam: the job spec file, the registry, and what the worker process may import."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from modelyard.frameworks.jobspec import SPEC_FILENAME
from modelyard.trainer.frameworks import Framework, TrainJobSpec, available, get, register

SRC = Path(__file__).resolve().parents[2] / "src"


def a_spec(tmp_path: Path, **changes: object) -> TrainJobSpec:
    fields: dict[str, object] = {
        "job_id": "job-1",
        "attempt": 1,
        "task": "detect",
        "dataset_yaml": str(tmp_path / "data.yaml"),
        "workdir": str(tmp_path / "work"),
        "config": {"epochs": 3, "imgsz": 64, "lr0": 0.01, "model": "yolo11n.yaml"},
        "resume_from": None,
        "device": "cpu",
    }
    fields.update(changes)
    return TrainJobSpec.from_dict(fields)


def test_spec_survives_the_file_it_is_handed_over_in(tmp_path: Path) -> None:
    spec = a_spec(tmp_path, resume_from=str(tmp_path / "last.pt"), device="0", attempt=3)
    path = spec.to_file(tmp_path / "nested" / "spec.json")
    assert TrainJobSpec.from_file(path) == spec
    assert json.loads(path.read_text())["config"]["lr0"] == 0.01
    assert not [p for p in path.parent.iterdir() if p.name != "spec.json"]  # no temp file left behind


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"attempt": 0}, "attempt"),
        ({"task": ""}, "task"),
        ({"config": ["epochs"]}, "config"),
        ({"surprise": 1}, "unknown"),
    ],
)
def test_a_malformed_spec_is_refused_with_the_field_named(
    tmp_path: Path, changes: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        a_spec(tmp_path, **changes)


def test_a_spec_missing_fields_names_them() -> None:
    with pytest.raises(ValueError, match="dataset_yaml, job_id"):
        TrainJobSpec.from_json('{"attempt": 1, "task": "detect", "workdir": "/w"}')


def test_ultralytics_is_built_in_and_trains_detect_segment_classify() -> None:
    framework = get("ultralytics")
    assert isinstance(framework, Framework)
    assert framework.tasks == {"detect", "segment", "classify"}
    assert "ultralytics" in available()
    assert get("ultralytics") is framework


def test_an_unknown_framework_is_a_key_error_that_lists_the_known_ones() -> None:
    with pytest.raises(KeyError, match=r"unknown training framework 'tensorflow'.*ultralytics"):
        get("tensorflow")


def test_command_writes_the_spec_into_the_workdir_and_runs_the_child_module(tmp_path: Path) -> None:
    spec = a_spec(tmp_path)
    argv = get("ultralytics").command(spec)
    assert argv[:3] == [sys.executable, "-m", "modelyard.trainer.frameworks.ultralytics_run"]
    assert argv[3] == "--spec"
    assert Path(argv[4]) == tmp_path / "work" / SPEC_FILENAME
    assert TrainJobSpec.from_file(argv[4]) == spec


def test_command_refuses_a_task_the_framework_cannot_train(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="pose"):
        get("ultralytics").command(a_spec(tmp_path, task="pose"))


def test_another_framework_plugs_in_without_touching_the_worker(tmp_path: Path) -> None:
    class EchoFramework:
        name = "echo-test"
        tasks = frozenset({"detect"})

        def command(self, job: TrainJobSpec) -> list[str]:
            return ["echo", job.job_id]

    register(EchoFramework())
    assert get("echo-test").command(a_spec(tmp_path)) == ["echo", "job-1"]
    assert "echo-test" in available()
    with pytest.raises(ValueError, match="already registered"):
        register(EchoFramework())


def test_the_worker_side_of_the_seam_imports_no_framework_or_torch() -> None:
    code = (
        "import sys\n"
        "from modelyard.trainer.frameworks import get\n"
        "from modelyard.frameworks import protocol\n"
        "get('ultralytics')\n"
        "heavy = sorted(m for m in ('torch', 'ultralytics', 'onnx', 'onnxruntime') if m in sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], env={"PYTHONPATH": str(SRC)}, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
