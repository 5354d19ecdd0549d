"""`modelyard train --watch` and `modelyard jobs ...` against a running platform with a real trainer."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner, Result

from modelyard.client import synthetic
from modelyard.client.cli import app
from modelyard.client.training_cli import parse_sets
from modelyard.client.uploader import upload_file
from modelyard.contracts.api.datasets import DatasetCreate, Task
from modelyard.contracts.api.uploads import UploadKind

from .conftest import Platform


async def _cli(platform: Platform, *args: str) -> Result:
    env = {"MODELYARD_GATEWAY_URL": platform.url, "MODELYARD_TOKEN": platform.admin_key, "COLUMNS": "200"}
    result: Result = await asyncio.to_thread(CliRunner().invoke, app, list(args), env=env)
    return result


def test_set_values_are_read_as_yaml_scalars() -> None:
    assert parse_sets(["epochs=3", "amp=false", "lr0=0.01", "optimizer=SGD", "freeze="]) == {
        "epochs": 3,
        "amp": False,
        "lr0": 0.01,
        "optimizer": "SGD",
        "freeze": None,
    }
    with pytest.raises(typer.BadParameter):
        parse_sets(["epochs"])


@pytest.mark.slow
async def test_train_watch_then_jobs_list_show_logs(platform: Platform, tmp_path: Path) -> None:
    async with platform.client() as api:
        dataset = await api.create_dataset(DatasetCreate(name="cli-cars", task=Task.DETECT))
        archive = synthetic.detect_zip(tmp_path / "cars.zip", train=12, val=4)
        await api.wait_upload((await upload_file(api, archive, dataset.id, UploadKind.YOLO_ZIP)).id)
        version = await api.publish_version(dataset.id, include="all")
    await platform.spawn_trainer()
    trained = await _cli(
        platform,
        "train",
        "--dataset",
        str(dataset.id),
        "--version",
        str(version.version),
        "--mode",
        "developer",
        "--set",
        "epochs=2",
        "--set",
        "imgsz=64",
        "--set",
        "batch=8",
        "--set",
        "workers=0",
        "--watch",
    )
    assert trained.exit_code == 0, trained.output
    assert "completed" in trained.output
    job_id = trained.output.split("job ", 1)[1].split()[0]
    uuid.UUID(job_id)

    listed = await _cli(platform, "jobs", "list")
    assert job_id in listed.output and "1 job(s)" in listed.output
    shown = await _cli(platform, "jobs", "show", job_id)
    assert shown.exit_code == 0 and "model.onnx" in shown.output and "mAP50" in shown.output
    logs = await _cli(platform, "jobs", "logs", job_id)
    assert logs.exit_code == 0 and logs.output.strip()
    again = await _cli(platform, "jobs", "cancel", job_id)
    assert again.exit_code == 1 and "409" in again.output  # a finished job cannot be cancelled


async def test_train_with_an_option_user_mode_refuses_prints_the_field(platform: Platform, tmp_path: Path) -> None:
    async with platform.client() as api:
        dataset = await api.create_dataset(DatasetCreate(name="cli-refuse", task=Task.DETECT))
        archive = synthetic.detect_zip(tmp_path / "cars.zip", train=2, val=1)
        await api.wait_upload((await upload_file(api, archive, dataset.id, UploadKind.YOLO_ZIP)).id)
        version = await api.publish_version(dataset.id, include="all")
    refused = await _cli(
        platform, "train", "--dataset", str(dataset.id), "--version", str(version.version), "--set", "lr0=0.5"
    )
    assert refused.exit_code == 1
    assert "overrides.lr0" in refused.output and "Traceback" not in refused.output
