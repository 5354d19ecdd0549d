"""Synthetic series laid out as the trainer lays out a csv_series dataset, and a runner for the training child."""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from modelyard.frameworks.childrun import ChildRun, child_env, launch, reap
from modelyard.frameworks.jobspec import TrainJobSpec
from modelyard.plugins.forecast.framework import ForecastFramework

START = datetime(2026, 1, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)
# Small windows and model: every child run trains in well under a second after its imports.
FAST: dict[str, Any] = {
    "input_steps": 12,
    "output_steps": 3,
    "hidden_units": 16,
    "batch": 32,
    "lr0": 0.01,
    "epochs": 3,
}


def series_rows(rows: int, start: datetime = START, step: timedelta = HOUR, seed: int = 0) -> list[list[Any]]:
    """[timestamp, temperature, load] rows: a daily cycle in both, a weekday bump in load, a little noise."""
    rng = random.Random(seed)
    out = []
    for i in range(rows):
        when = start + step * i
        hours = (when - START).total_seconds() / 3600
        temperature = 10 + 5 * math.sin(2 * math.pi * hours / 24) + rng.gauss(0, 0.3)
        load = 50 + 20 * math.cos(2 * math.pi * hours / 24) + (10 if when.weekday() < 5 else 0) + rng.gauss(0, 1)
        out.append([when.isoformat(), round(temperature, 3), round(load, 3)])
    return out


def write_series(
    path: Path, rows: list[list[Any]], header: tuple[str, ...] = ("timestamp", "temperature", "load")
) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [",".join(header)] + [",".join("" if v is None else str(v) for v in row) for row in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def make_dataset(root: Path, train_rows: int = 240, val_rows: int = 72, *, split_folders: bool = True) -> Path:
    """A dataset directory as ultralytics_dataset.py writes one (train/, val/, labels.csv, data.yaml); returns
    data.yaml. With split_folders=False there is one series, in train/, and val/ is empty."""
    write_series(root / "train" / "0a1b2c3d4e5f6a7b.csv", series_rows(train_rows, seed=1))
    (root / "val").mkdir(parents=True, exist_ok=True)
    if split_folders:
        write_series(root / "val" / "1a1b2c3d4e5f6a7b.csv", series_rows(val_rows, START + HOUR * train_rows, seed=2))
    for split in ("train", "val"):
        names = [p.name for p in (root / split).glob("*.csv") if p.name != "labels.csv"]
        (root / split / "labels.csv").write_text("name,value,rating\n" + "".join(f"{n},,\n" for n in names))
    data = root / "data.yaml"
    data.write_text(f"path: {root}\ntrain: train\nval: val\nnames: {{}}\n", encoding="utf-8")
    return data


def job_spec(data: Path, workdir: Path, resume_from: str | None = None, **config: Any) -> TrainJobSpec:
    return TrainJobSpec(
        job_id="job-forecast",
        attempt=2 if resume_from else 1,
        task="forecast",
        dataset_yaml=str(data),
        workdir=str(workdir),
        config=FAST | config,
        resume_from=resume_from,
        device="cpu",
    )


def start_forecast(spec: TrainJobSpec, stderr_path: Path, extra_env: dict[str, str] | None = None) -> ChildRun:
    """Start the child the way the trainer does: the framework's command, stdout a pipe, stderr a log."""
    return launch(ForecastFramework().command(spec), stderr_path, child_env(extra_env))


@pytest.fixture
def start_child(tmp_path: Path) -> Iterator[Callable[..., ChildRun]]:
    """start_child(spec, extra_env=None) -> ChildRun; whatever still runs at the end is killed."""
    runs: list[ChildRun] = []

    def start(spec: TrainJobSpec, extra_env: dict[str, str] | None = None) -> ChildRun:
        runs.append(start_forecast(spec, tmp_path / f"stderr-{len(runs)}.log", extra_env))
        return runs[-1]

    yield start
    for run in runs:
        reap(run)


@pytest.fixture(scope="session")
def series_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """data.yaml of a dataset with one training series (240 hourly rows) and one validation series (72 rows)."""
    return make_dataset(tmp_path_factory.mktemp("forecast-data"))


@dataclass
class FinishedRun:
    run: ChildRun
    workdir: Path


@pytest.fixture(scope="session")
def finished_runs(series_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, FinishedRun]]:
    """One completed child run per model (linear, svr, mlp with 3 epochs), run side by side, shared by the tests."""
    root = tmp_path_factory.mktemp("forecast-runs")
    runs = {
        model: FinishedRun(
            start_forecast(job_spec(series_data, root / model, model=model), root / f"{model}.log"), root / model
        )
        for model in ("linear", "svr", "mlp")
    }
    for finished in runs.values():
        finished.run.finish()
    yield runs
    for finished in runs.values():
        reap(finished.run)
