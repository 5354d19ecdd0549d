"""The forecast framework plugin end to end, on the real stack: hourly series (CSV files in a zip) uploaded into a
forecast dataset, a published version, the plugin's preset through the resolver, a job trained by a real trainer
worker through the plugin's child (an MLP, three epochs), its checkpoints, ONNX, evaluation table and plots listed
with URLs, the registered version with forecast metrics, approval, a signed release deployed to a real edge agent
that forecasts the next hours from the last day of rows with the plugin's runtime, and names the field of bad
input."""

from __future__ import annotations

import hashlib
import json
import math
import random
import uuid
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from modelyard.client.api import ModelyardClient
from modelyard.client.uploader import upload_file
from modelyard.contracts.api.datasets import DatasetCreate, Task
from modelyard.contracts.api.models import ModelStatus, Transition
from modelyard.contracts.api.uploads import UploadKind, UploadState
from modelyard.edge.agent import Agent

from .agent_support import agents, serving
from .conftest import Platform
from .edge_support import wait_deployment
from .registry_support import registered
from .training_support import wait_job

MODULE = "grid-load"
INPUT_STEPS, OUTPUT_STEPS = 24, 6
START = datetime(2026, 1, 5, tzinfo=UTC)
EPOCH_KEYS = {"train/loss", "val/loss", "val/mae", "val/rmse", "val/mase", "lr/pg0"}
FILES = {
    "last.pt",
    "best.pt",
    "model.onnx",
    "evaluation.json",
    "evaluation.csv",
    "violin_temperature.png",
    "forecast_temperature.png",
    "violin_load.png",
    "forecast_load.png",
}


def _rows(first_hour: int, count: int, seed: int) -> list[tuple[str, float, float]]:
    """Hourly temperature and load: a daily cycle, a weekday bump in load, a little noise."""
    rng = random.Random(seed)
    rows = []
    for hour in range(first_hour, first_hour + count):
        when = START + timedelta(hours=hour)
        temperature = 8 + 6 * math.sin(2 * math.pi * (hour - 9) / 24) + rng.gauss(0, 0.3)
        load = 55 + 20 * math.cos(2 * math.pi * (hour - 18) / 24) + (8 if when.weekday() < 5 else 0) + rng.gauss(0, 1)
        rows.append((when.isoformat(), round(temperature, 3), round(load, 3)))
    return rows


def _series_zip(path: Path) -> list[tuple[str, float, float]]:
    """Two CSV files of 12 days each, the second right after the first; returns all rows."""
    parts = [_rows(0, 288, seed=1), _rows(288, 288, seed=2)]
    with zipfile.ZipFile(path, "w") as archive:
        for index, rows in enumerate(parts):
            text = "timestamp,temperature,load\n" + "".join(f"{t},{a},{b}\n" for t, a, b in rows)
            archive.writestr(f"substation-{index}.csv", text)
    return [row for rows in parts for row in rows]


async def _published_series(api: ModelyardClient, tmp_path: Path) -> tuple[uuid.UUID, int, list[Any]]:
    dataset = await api.create_dataset(
        DatasetCreate(name=f"grid-{uuid.uuid4().hex[:6]}", task=Task.FORECAST, ai_module=MODULE)
    )
    rows = _series_zip(tmp_path / "series.zip")
    done = await api.wait_upload(
        (await upload_file(api, tmp_path / "series.zip", dataset.id, UploadKind.CSV_SERIES)).id
    )
    assert done.state is UploadState.COMPLETED, done.problems
    version = await api.publish_version(dataset.id, include="all", val_fraction=0.5)
    return dataset.id, version.version, rows


async def _train(platform: Platform, dataset_id: uuid.UUID, version: int) -> str:
    body = {
        "name": "grid-load-mlp",
        "dataset_id": str(dataset_id),
        "dataset_version": version,
        "framework": "forecast",  # the task defaults to the dataset's: forecast
        "mode": "developer",
        "overrides": {
            "model": "mlp",
            "epochs": 3,
            "input_steps": INPUT_STEPS,
            "output_steps": OUTPUT_STEPS,
            "hidden_units": 32,
            "lr0": 0.01,
        },
    }
    async with platform.http.post(f"{platform.url}/api/v1/training/jobs", json=body, headers=platform.auth()) as r:
        assert r.status == 202, await r.text()
        job_id: str = (await r.json())["id"]
    done = await wait_job(platform, job_id, {"completed", "failed", "cancelled"}, limit_s=180)
    assert done["status"] == "completed", done.get("error_message")
    return job_id


async def _infer(agent: Agent, payload: dict[str, Any]) -> httpx.Response:
    async with httpx.AsyncClient(base_url=agent.url, timeout=30) as http:
        return await http.post(f"/v1/models/{MODULE}/infer", content=json.dumps(payload).encode())


@pytest.mark.slow
async def test_series_train_release_and_forecast_on_the_edge(platform: Platform, tmp_path: Path) -> None:
    async with platform.client() as api:
        dataset_id, version, rows = await _published_series(api, tmp_path)
        resolved = await api.resolve_config(
            "forecast", "user", {"model": "svr", "input_steps": 48}, framework="forecast"
        )
        assert resolved.values["model"] == "svr" and resolved.values["input_steps"] == 48
        assert resolved.cli_preview.startswith("python -m modelyard.plugins.forecast.train --data <dataset.yaml>")
        await platform.spawn_trainer()

        job_id = await _train(platform, dataset_id, version)
        metrics = await api.job_metrics(uuid.UUID(job_id))
        assert [m.epoch for m in metrics.metrics] == [1, 2, 3]
        assert all(set(m.metrics) >= EPOCH_KEYS for m in metrics.metrics)

        # checkpoints, the model and every artifact event (evaluation table, plots) are listed with URLs
        checkpoints = {c.name: c for c in (await api.job_checkpoints(uuid.UUID(job_id))).checkpoints}
        assert set(checkpoints) == FILES
        async with httpx.AsyncClient(timeout=30) as plain:
            downloaded = {}
            for name in ("evaluation.json", "forecast_load.png", "violin_temperature.png"):
                data = (await plain.get(checkpoints[name].url)).content
                assert (
                    hashlib.sha256(data).hexdigest() == checkpoints[name].sha256 and len(data) == checkpoints[name].size
                )
                downloaded[name] = data
        assert downloaded["forecast_load.png"].startswith(b"\x89PNG")
        evaluation = json.loads(downloaded["evaluation.json"])
        assert evaluation["columns"] == ["temperature", "load"] and evaluation["step_seconds"] == 3600
        assert [(r["variable"], r["step"]) for r in evaluation["table"]] == [
            (c, h) for c in ("temperature", "load") for h in range(1, OUTPUT_STEPS + 1)
        ]

        model = await registered(platform, uuid.UUID(job_id))
        assert (model.task, model.framework, model.status) == ("forecast", "forecast", ModelStatus.DRAFT)
        assert {"mae", "mape", "mse", "rmse", "nrmse", "wape", "smape", "mase", "val_loss", "inference_ms"} <= set(
            model.metrics
        )
        await api.put_registry_settings(four_eyes=False)
        await api.transition_model(model.id, Transition.APPROVE, "evaluation table checked")
        release = await api.release_model(model.id, "first grid-load forecaster")
        assert release.counter == 1

        async with agents(platform, tmp_path, "substation-edge") as (agent,):
            created = await api.create_deployment(model.id, all_devices=True)
            done = await wait_deployment(platform, str(created.id), {"completed", "failed", "aborted"}, limit_s=90)
            assert done["status"] == "completed", done
            await serving(agent, MODULE, model.version)

            window = rows[-INPUT_STEPS:]
            payload = {"timestamps": [r[0] for r in window], "values": [[r[1], r[2]] for r in window]}
            response = await _infer(agent, payload)
            assert response.status_code == 200, response.text
            answer = response.json()
            assert set(answer) == {"ai_module", "model_version", "counter", "forecast", "timestamps", "columns"}
            assert (answer["ai_module"], answer["model_version"], answer["counter"]) == (MODULE, model.version, 1)
            last = datetime.fromisoformat(window[-1][0])
            assert answer["timestamps"] == [(last + timedelta(hours=h)).isoformat() for h in range(1, 7)]
            assert answer["columns"] == ["temperature", "load"]
            forecast = answer["forecast"]
            assert len(forecast) == OUTPUT_STEPS and all(len(row) == 2 for row in forecast)
            for column in (0, 1):  # in original units: near the range the series keeps to
                seen = [r[column + 1] for r in rows]
                low, high = min(seen), max(seen)
                margin = (high - low) / 2
                assert all(low - margin <= row[column] <= high + margin for row in forecast), forecast

            short = {"timestamps": payload["timestamps"][1:], "values": payload["values"][1:]}
            refused = await _infer(agent, short)
            assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "timestamps", refused.text
            narrow = {"timestamps": payload["timestamps"], "values": [row[:1] for row in payload["values"]]}
            refused = await _infer(agent, narrow)
            assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "values", refused.text
