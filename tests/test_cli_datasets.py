"""`modelyard datasets ...` against a running platform. The platform serves from this test's event loop, so the
CLI (which runs its own loop with asyncio.run) is invoked in a worker thread."""

from __future__ import annotations

import asyncio
import io
import json
import uuid
import zipfile
from pathlib import Path
from typing import Any

from typer.testing import CliRunner, Result

from modelyard.client import synthetic
from modelyard.client.cli import app
from modelyard.client.uploader import ResumeState, file_sha256, upload_file
from modelyard.contracts.api.datasets import DatasetCreate, Task
from modelyard.contracts.api.uploads import UploadKind, UploadState

from .conftest import Platform

MIB = 1024 * 1024


async def _cli(platform: Platform, *args: str) -> Result:
    env = {"MODELYARD_GATEWAY_URL": platform.url, "MODELYARD_TOKEN": platform.admin_key, "COLUMNS": "160"}
    result: Result = await asyncio.to_thread(CliRunner().invoke, app, list(args), env=env)
    assert "Traceback" not in result.output, result.output
    return result


def _doc(stdout: str) -> Any:
    """The JSON document the CLI printed; the platform's own log lines (this process) may surround it."""
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line == "{")
    end = max(i for i, line in enumerate(lines) if line == "}")
    return json.loads("\n".join(lines[start : end + 1]))


async def test_create_list_upload_show_and_publish_twice(platform: Platform, tmp_path: Path) -> None:
    created = await _cli(
        platform, "datasets", "create", "parking cams", "--task", "detect", "--class-names", "car,bus", "--json"
    )
    assert created.exit_code == 0, created.output
    dataset = _doc(created.stdout)
    dataset_id = dataset["id"]
    assert dataset["class_names"] == ["car", "bus"] and dataset["task"] == "detect"

    other = await _cli(platform, "datasets", "create", "lobby", "--task", "classify", "--environment", "staging")
    assert other.exit_code == 0, other.output
    assert "created" in other.stdout and "lobby" in other.stdout and "staging" in other.stdout

    listed = await _cli(platform, "datasets", "list")
    assert listed.exit_code == 0, listed.output
    assert dataset_id in listed.stdout and "parking cams" in listed.stdout and "of 2 datasets" in listed.stdout
    only_detect = _doc((await _cli(platform, "datasets", "list", "--task", "detect", "--json")).stdout)
    assert only_detect["total"] == 1 and only_detect["datasets"][0]["id"] == dataset_id

    archive = synthetic.detect_zip(tmp_path / "cars.zip", train=6, val=2)
    state = tmp_path / "uploads.json"
    uploaded = await _cli(
        platform, "datasets", "upload", str(archive), "--dataset", dataset_id, "--kind", "yolo_zip",
        "--state-file", str(state),
    )  # fmt: skip
    assert uploaded.exit_code == 0, uploaded.output
    assert "imported 8 samples" in uploaded.stdout and "skipped 0" in uploaded.stdout
    assert json.loads(state.read_text()) == {}  # nothing left to resume

    shown = await _cli(platform, "datasets", "show", dataset_id)
    assert shown.exit_code == 0, shown.output
    assert "stats" in shown.stdout and "samples      8" in shown.stdout and "none published yet" in shown.stdout

    first = await _cli(platform, "datasets", "publish", dataset_id, "--include", "all", "--val-fraction", "0.25")
    assert first.exit_code == 0, first.output
    assert "published version 1" in first.stdout and "manifest sha256" in first.stdout
    second = await _cli(platform, "datasets", "publish", dataset_id, "--include", "all", "--val-fraction", "0.25")
    assert second.exit_code == 0, second.output
    assert "version 1 already has this content" in second.stdout

    doc = _doc((await _cli(platform, "datasets", "show", dataset_id, "--json")).stdout)
    assert doc["stats"]["samples"] == 8 and doc["dataset"]["sample_count"] == 8
    assert [v["version"] for v in doc["versions"]] == [1]
    sha_line = next(line for line in first.stdout.splitlines() if "manifest sha256" in line)
    assert doc["versions"][0]["manifest_sha256"] == sha_line.split()[-1]


async def test_interrupted_upload_resumes_with_only_the_missing_chunks(platform: Platform, tmp_path: Path) -> None:
    archive = synthetic.bulk_detect_zip(tmp_path / "big.zip", 11 * MIB, side=512)
    size = archive.stat().st_size
    state_path = tmp_path / "state" / "uploads.json"
    async with platform.client() as api:
        dataset = await api.create_dataset(DatasetCreate(name="big", task=Task.DETECT))
        partial = await upload_file(
            api,
            archive,
            dataset.id,
            UploadKind.YOLO_ZIP,
            chunk_size=5 * MIB,
            resume=ResumeState(state_path),
            stop_after_chunks=1,
        )
    assert partial.state is UploadState.RECEIVING and partial.received_bytes == 5 * MIB

    resumed = await _cli(
        platform, "datasets", "upload", str(archive), "--dataset", str(dataset.id), "--kind", "yolo_zip",
        "--chunk-size-mb", "5", "--state-file", str(state_path), "--json",
    )  # fmt: skip
    assert resumed.exit_code == 0, resumed.output
    assert f"resuming upload {partial.id}: {5 * MIB:,} of {size:,} bytes already there" in resumed.output
    done = _doc(resumed.stdout)
    assert done["id"] == str(partial.id) and done["state"] == "completed"
    assert done["imported_samples"] > 0 and done["sha256"] == file_sha256(archive)
    assert "imported" in resumed.stdout
    assert json.loads(state_path.read_text()) == {}


async def test_a_failed_import_prints_the_problems_and_exits_1(platform: Platform, tmp_path: Path) -> None:
    path = tmp_path / "bad.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("data.yaml", "names: ['car']\ntrain: images/train\n")
        image = io.BytesIO()
        from PIL import Image

        Image.new("RGB", (16, 16)).save(image, format="PNG")
        zf.writestr("images/train/a.png", image.getvalue())
        zf.writestr("labels/train/a.txt", "7 0.5 0.5 0.1 0.1\n")
    async with platform.client() as api:
        dataset = await api.create_dataset(DatasetCreate(name="bad", task=Task.DETECT))
    result = await _cli(
        platform, "datasets", "upload", str(path), "--dataset", str(dataset.id), "--kind", "yolo_zip",
        "--state-file", str(tmp_path / "uploads.json"),
    )  # fmt: skip
    assert result.exit_code == 1
    assert "failed" in result.stderr and "labels/train/a.txt:1:" in result.stderr


async def test_an_unknown_kind_is_a_usage_error_without_a_traceback(platform: Platform, tmp_path: Path) -> None:
    path = synthetic.series_csv(tmp_path / "load.csv", rows=5)
    result = await _cli(platform, "datasets", "upload", str(path), "--dataset", str(uuid.uuid4()), "--kind", "tarball")
    assert result.exit_code == 2
    assert "Invalid value for '--kind'" in result.output and "tarball" in result.output
    assert isinstance(result.exception, SystemExit)


async def test_an_api_error_prints_the_problem_and_exits_1(platform: Platform) -> None:
    missing = uuid.uuid4()
    result = await _cli(platform, "datasets", "show", str(missing))
    assert result.exit_code == 1
    assert "error 404" in result.stderr and str(missing) in result.stderr

    invalid = await _cli(platform, "datasets", "create", "x" * 300, "--task", "detect")
    assert invalid.exit_code == 2 and "invalid name" in invalid.stderr


async def test_a_duplicate_name_prints_the_409(platform: Platform) -> None:
    assert (await _cli(platform, "datasets", "create", "cams", "--task", "detect")).exit_code == 0
    again = await _cli(platform, "datasets", "create", "cams", "--task", "detect")
    assert again.exit_code == 1 and "error 409" in again.stderr


def test_without_a_stack_it_says_so_and_exits_2() -> None:
    result = CliRunner().invoke(
        app, ["datasets", "list"], env={"MODELYARD_GATEWAY_URL": "", "MODELYARD_TOKEN": ""}, catch_exceptions=False
    )
    assert result.exit_code == 2 and "no stack found" in result.stderr
