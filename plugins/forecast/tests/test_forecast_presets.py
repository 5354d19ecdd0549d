"""The preset through the scheduler's resolver (as `POST /api/v1/training/config/resolve` uses it), the command-line
preview and the child's reading of that command line."""

from __future__ import annotations

import argparse
import dataclasses
import shlex
from pathlib import Path

import pytest

from modelyard.frameworks import presets as registry
from modelyard.frameworks.model import ConfigInvalid
from modelyard.plugins.forecast import presets
from modelyard.plugins.forecast.framework import ForecastFramework
from modelyard.plugins.forecast.train import resolve_config, spec_from_cli
from modelyard.scheduler.presets import field_table, frameworks, resolve

from .conftest import job_spec


def test_the_entry_point_registered_the_preset_and_its_yaml_matches_the_field_table() -> None:
    presets.register()  # idempotent: the scheduler already loaded the entry point
    assert frameworks()["forecast"] == ["forecast"]
    values = registry.preset_values(presets.preset())
    assert list(values) == [f.name for f in presets.FIELDS]
    assert values["model"] == "mlp" and values["time_zone"] == "Europe/Vienna"
    rows = {row["name"]: row for row in field_table("forecast", "forecast")}
    assert rows["model"]["choices"] == ["linear", "mlp", "svr"] and rows["model"]["user_mode"]
    assert not rows["lr0"]["user_mode"]


def test_user_mode_sets_only_the_safe_subset_and_every_value_is_range_checked() -> None:
    resolved = resolve("forecast", "forecast", "user", {"model": "svr", "input_steps": 48, "holiday": False})
    assert resolved.values["model"] == "svr" and resolved.values["input_steps"] == 48
    with pytest.raises(ConfigInvalid) as caught:
        resolve(
            "forecast",
            "forecast",
            "user",
            {"lr0": 0.1, "input_steps": 0, "model": "lstm", "epochs": "3", "time_zone": "Mars", "bogus": 1},
        )
    problems = {p.field: p.code for p in caught.value.problems}
    assert problems == {
        "overrides.lr0": "developer_only",
        "overrides.input_steps": "out_of_range",
        "overrides.model": "bad_choice",
        "overrides.epochs": "wrong_type",
        "overrides.time_zone": "bad_choice",
        "overrides.bogus": "unknown_option",
    }
    developer = resolve("forecast", "forecast", "developer", {"lr0": 0.1, "kernel": "poly"})
    assert developer.values["lr0"] == 0.1 and developer.values["kernel"] == "poly"


def test_the_command_line_preview_is_what_the_child_reads(tmp_path: Path) -> None:
    resolved = resolve("forecast", "forecast", "developer", {"model": "linear", "alpha": 0.25, "time_zone": "UTC"})
    preview = resolved.cli_preview
    assert preview == (
        "python -m modelyard.plugins.forecast.train --data <dataset.yaml> --workdir <workdir> "
        "model=linear time_zone=UTC alpha=0.25"
    )
    argv = shlex.split(preview)[3:]
    argv[argv.index("<dataset.yaml>")] = str(tmp_path / "data.yaml")
    argv[argv.index("<workdir>")] = str(tmp_path / "work")
    parser = argparse.ArgumentParser()
    for option in ("--data", "--workdir", "--resume"):
        parser.add_argument(option)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("values", nargs="*")
    job = spec_from_cli(parser.parse_args(argv))
    assert job.config == resolved.values
    assert job.dataset_yaml == str(tmp_path / "data.yaml") and job.task == "forecast"
    with pytest.raises(ValueError, match="unknown option"):
        resolve_config({"nope": 1})


def test_the_framework_writes_the_spec_and_runs_the_child_module(tmp_path: Path) -> None:
    job = job_spec(tmp_path / "data.yaml", tmp_path / "work")
    argv = ForecastFramework(python="/usr/bin/python3").command(job)
    assert argv == [
        "/usr/bin/python3",
        "-m",
        "modelyard.plugins.forecast.train",
        "--spec",
        str(tmp_path / "work" / "trainjob.json"),
    ]
    with pytest.raises(ValueError, match="cannot train task"):
        ForecastFramework().command(dataclasses.replace(job, task="detect"))
