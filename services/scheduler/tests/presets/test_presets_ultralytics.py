"""The presets against the installed Ultralytics: real argument names, accepted values, the CLI's own parser."""

from __future__ import annotations

import shlex
from typing import Any

import pytest

from modelyard.scheduler.presets import default_config, field_table, resolve
from modelyard.scheduler.presets.yolo import DATA_PLACEHOLDER, ULTRALYTICS_DEFAULTS

from .conftest import UltralyticsProbe

TASKS = ["detect", "segment", "classify"]
DEVELOPER_OVERRIDES: dict[str, Any] = {
    "epochs": 3,
    "imgsz": 320,
    "batch": -1,
    "optimizer": "AdamW",
    "lr0": 0.001,
    "weight_decay": 1e-05,
    "cos_lr": True,
    "freeze": 10,
    "time": 0.5,
    "seed": 7,
    "device": "cuda:0",
    "fliplr": 0,
}


def parse_preview(ultralytics_cfg: UltralyticsProbe, preview: str, task: str) -> dict[str, Any]:
    words = shlex.split(preview)
    assert words[:3] == ["yolo", task, "train"]
    return dict(ultralytics_cfg.parse_key_value_pair(word) for word in words[3:])


@pytest.mark.parametrize("task", TASKS)
def test_every_option_is_an_ultralytics_train_argument(ultralytics_cfg: UltralyticsProbe, task: str) -> None:
    upstream = ultralytics_cfg.DEFAULT_CFG_DICT
    names = [row["name"] for row in field_table("ultralytics", task)]
    assert set(names) <= upstream.keys(), set(names) - upstream.keys()
    assert set(default_config("ultralytics", task).values) <= upstream.keys()


def test_mirrored_defaults_match_ultralytics(ultralytics_cfg: UltralyticsProbe) -> None:
    upstream = ultralytics_cfg.DEFAULT_CFG_DICT
    assert {name: upstream[name] for name in ULTRALYTICS_DEFAULTS} == ULTRALYTICS_DEFAULTS


@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("overrides", [{}, DEVELOPER_OVERRIDES], ids=["preset", "developer"])
def test_ultralytics_accepts_the_resolved_values(
    ultralytics_cfg: UltralyticsProbe, task: str, overrides: dict[str, Any]
) -> None:
    values = resolve("ultralytics", task, "developer", overrides).values
    cfg = ultralytics_cfg.get_cfg(overrides={**values, "task": task, "mode": "train", "data": "dataset.yaml"})
    for name, value in values.items():
        assert getattr(cfg, name) == value, name


@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("overrides", [{}, {"epochs": 3}, DEVELOPER_OVERRIDES], ids=["preset", "epochs", "developer"])
def test_cli_preview_round_trips_through_the_ultralytics_parser(
    ultralytics_cfg: UltralyticsProbe, task: str, overrides: dict[str, Any]
) -> None:
    config = resolve("ultralytics", task, "developer", overrides)
    parsed = parse_preview(ultralytics_cfg, config.cli_preview, task)
    assert parsed.pop("data") == DATA_PLACEHOLDER
    if "epochs" in overrides:
        assert f"epochs={overrides['epochs']}" in config.cli_preview.split()
    listed = {name: config.values[name] for name in parsed}
    assert parsed == listed
    # what the command leaves out is Ultralytics' default, so the command trains with exactly these values
    upstream = ultralytics_cfg.DEFAULT_CFG_DICT
    assert {**{name: upstream[name] for name in config.values}, **parsed} == config.values


@pytest.mark.parametrize("task", TASKS)
def test_model_choices_are_ultralytics_model_yamls(ultralytics_cfg: UltralyticsProbe, task: str) -> None:
    model_row = next(row for row in field_table("ultralytics", task) if row["name"] == "model")
    for choice in model_row["choices"]:
        model = ultralytics_cfg.model_info(choice)
        assert model["scale"] == choice[6] and model["backbone"], choice
        assert model["task"] == task
