from __future__ import annotations

from typing import Any

import pytest
import yaml

from modelyard.scheduler.presets import (
    ConfigInvalid,
    FieldProblem,
    Mode,
    ProblemCode,
    default_config,
    field_table,
    frameworks,
    resolve,
)

TASKS = ["detect", "segment", "classify"]
USER_FIELDS = {"epochs", "imgsz", "batch", "amp", "patience", "save", "device"}


def problems_of(
    overrides: dict[str, Any], mode: Mode | str = Mode.DEVELOPER, task: str = "detect"
) -> list[FieldProblem]:
    with pytest.raises(ConfigInvalid) as caught:
        resolve("ultralytics", task, mode, overrides)
    return caught.value.problems


def only_problem(overrides: dict[str, Any], mode: Mode | str = Mode.DEVELOPER) -> FieldProblem:
    problems = problems_of(overrides, mode)
    assert len(problems) == 1, problems
    return problems[0]


def test_frameworks_lists_the_ultralytics_tasks() -> None:
    assert frameworks()["ultralytics"] == TASKS  # installed plugins add their own frameworks beside it


@pytest.mark.parametrize(
    ("task", "model"), [("detect", "yolo11n.yaml"), ("segment", "yolo11n-seg.yaml"), ("classify", "yolo11n-cls.yaml")]
)
def test_default_config_is_the_cpu_friendly_preset(task: str, model: str) -> None:
    config = default_config("ultralytics", task)
    assert (config.framework, config.task, config.mode) == ("ultralytics", task, Mode.DEVELOPER)
    values = config.values
    assert values["model"] == model
    assert values["device"] == "cpu" and values["pretrained"] is False and values["optimizer"] == "auto"
    assert values["epochs"] == 50 and values["workers"] == 2
    assert list(values) == [row["name"] for row in field_table("ultralytics", task)]
    assert config.cli_preview.startswith(f"yolo {task} train data=<dataset.yaml> model={model} ")
    first_line, _ = config.resolved_yaml.split("\n", 1)
    assert first_line == f"# modelyard training config: framework=ultralytics task={task} mode=developer"
    assert yaml.safe_load(config.resolved_yaml) == values


def test_task_specific_options() -> None:
    detect = default_config("ultralytics", "detect").values
    segment = default_config("ultralytics", "segment").values
    classify = default_config("ultralytics", "classify").values
    assert {"box", "mosaic", "close_mosaic"} <= detect.keys() and "overlap_mask" not in detect
    assert {"overlap_mask", "mask_ratio", "copy_paste"} <= segment.keys()
    assert {"dropout", "erasing", "auto_augment"} <= classify.keys()
    assert not {"box", "mosaic", "close_mosaic", "degrees"} & classify.keys()
    assert classify["imgsz"] == 224


def test_each_call_returns_its_own_values() -> None:
    default_config("ultralytics", "detect").values["epochs"] = 999
    assert default_config("ultralytics", "detect").values["epochs"] == 50


def test_user_mode_accepts_the_safe_subset() -> None:
    overrides = {"epochs": 3, "imgsz": 320, "batch": -1, "amp": False, "patience": 0, "save": False, "device": "0"}
    config = resolve("ultralytics", "detect", "user", overrides)
    assert config.mode is Mode.USER
    assert {name: config.values[name] for name in overrides} == overrides
    assert config.resolved_yaml.startswith("# modelyard training config: framework=ultralytics task=detect mode=user\n")


def test_user_mode_refuses_developer_options() -> None:
    problem = only_problem({"epochs": 3, "lr0": 0.001}, Mode.USER)
    assert problem.field == "overrides.lr0"
    assert problem.code == ProblemCode.DEVELOPER_ONLY
    assert problem.code == "developer_only"
    assert "developer mode" in problem.message


def test_developer_mode_accepts_every_option() -> None:
    config = resolve("ultralytics", "detect", Mode.DEVELOPER, {"lr0": 0.001, "optimizer": "AdamW", "cos_lr": True})
    assert config.values["lr0"] == 0.001 and config.values["optimizer"] == "AdamW" and config.values["cos_lr"] is True


def test_field_table_marks_exactly_the_user_fields() -> None:
    for task in TASKS:
        rows = field_table("ultralytics", task)
        assert {row["name"] for row in rows if row["user_mode"]} == USER_FIELDS
        defaults = default_config("ultralytics", task).values
        for row in rows:
            assert set(row) >= {"name", "type", "default", "min", "max", "choices", "user_mode", "help"}
            assert row["default"] == defaults[row["name"]] and row["help"]
    imgsz = next(row for row in field_table("ultralytics", "detect") if row["name"] == "imgsz")
    assert (imgsz["type"], imgsz["min"], imgsz["max"], imgsz["multiple_of"]) == ("int", 32, 2048, 32)
    optimizer = next(row for row in field_table("ultralytics", "detect") if row["name"] == "optimizer")
    assert optimizer["type"] == "choice" and "auto" in optimizer["choices"] and optimizer["user_mode"] is False


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"epochs": 0}, "out_of_range"),
        ({"epochs": 1001}, "out_of_range"),
        ({"imgsz": 33}, "invalid_value"),
        ({"imgsz": 4096}, "out_of_range"),
        ({"batch": 0}, "out_of_range"),
        ({"batch": -2}, "out_of_range"),
        ({"lr0": 0}, "out_of_range"),
        ({"lr0": 1.5}, "out_of_range"),
        ({"momentum": 1.0}, "out_of_range"),
        ({"patience": -1}, "out_of_range"),
        ({"lr0": float("nan")}, "out_of_range"),
        ({"optimizer": "sgd"}, "bad_choice"),
        ({"model": "yolo11n.pt"}, "bad_choice"),
        ({"device": "gpu"}, "invalid_value"),
        ({"device": "0, 1"}, "invalid_value"),
        ({"device": "0,0"}, "invalid_value"),
    ],
)
def test_out_of_range_and_bad_values(overrides: dict[str, Any], code: str) -> None:
    problem = only_problem(overrides)
    assert problem.field == f"overrides.{next(iter(overrides))}"
    assert problem.code == code


def test_range_messages_name_the_range() -> None:
    assert only_problem({"epochs": 0}).message == "must be between 1 and 1000, got 0"
    assert only_problem({"imgsz": 33}).message == "must be a multiple of 32, got 33"
    assert only_problem({"batch": 0}).message == "must be -1 or between 1 and 512, got 0"
    assert only_problem({"lr0": 0}).message == "must be greater than 0.0 and at most 1.0, got 0.0"


def test_unknown_option() -> None:
    problem = only_problem({"learning_rate": 0.01})
    assert (problem.field, problem.code) == ("overrides.learning_rate", "unknown_option")
    assert "learning_rate" in problem.message
    assert "did you mean device" in only_problem({"devcie": "cpu"}).message
    # an option of another task is unknown here
    assert only_problem({"dropout": 0.1}).code == "unknown_option"
    # and unknown wins over developer-only in user mode
    assert only_problem({"nonsense": 1}, Mode.USER).code == "unknown_option"


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({"epochs": "ten"}, "expected an integer, got the string 'ten'"),
        ({"epochs": "3"}, "expected an integer, got the string '3'"),
        ({"epochs": 2.5}, "expected an integer, got float 2.5"),
        ({"epochs": True}, "expected an integer, got boolean true"),
        ({"epochs": None}, "must not be null"),
        ({"amp": 1}, "expected true or false, got int 1"),
        ({"amp": "true"}, "expected true or false, got the string 'true'"),
        ({"lr0": "0.01"}, "expected a number"),
        ({"optimizer": 3}, "expected one of auto, SGD"),
        ({"device": True}, "expected a device"),
        ({"device": [0, 1]}, "got a list"),
    ],
)
def test_wrong_types(overrides: dict[str, Any], fragment: str) -> None:
    problem = only_problem(overrides)
    assert problem.code == "wrong_type"
    assert fragment in problem.message


def test_json_numbers_are_coerced() -> None:
    values = resolve(
        "ultralytics", "detect", "developer", {"epochs": 3.0, "lr0": 1, "warmup_epochs": 0, "device": 1}
    ).values
    assert values["epochs"] == 3 and type(values["epochs"]) is int
    assert values["lr0"] == 1.0 and type(values["lr0"]) is float
    assert type(values["warmup_epochs"]) is float
    assert values["device"] == "1"


def test_device_forms() -> None:
    for device in ("cpu", "0", "3", "0,1", "0,1,2,3", "cuda:0", "cuda:1"):
        assert resolve("ultralytics", "detect", "user", {"device": device}).values["device"] == device


def test_nullable_options() -> None:
    config = resolve("ultralytics", "detect", "developer", {"freeze": 10, "time": 2})
    assert config.values["freeze"] == 10 and config.values["time"] == 2.0
    assert resolve("ultralytics", "detect", "developer", {"freeze": None}).values["freeze"] is None


def test_every_problem_is_reported_together() -> None:
    problems = problems_of(
        {"epochs": 0, "imgsz": 33, "lr0": 0.01, "amp": 1, "bogus": True, "batch": 16, "device": "gpu"}, Mode.USER
    )
    assert [(p.field, p.code) for p in problems] == [
        ("overrides.epochs", "out_of_range"),
        ("overrides.imgsz", "invalid_value"),
        ("overrides.lr0", "developer_only"),
        ("overrides.amp", "wrong_type"),
        ("overrides.bogus", "unknown_option"),
        ("overrides.device", "invalid_value"),
    ]
    with pytest.raises(ConfigInvalid, match=r"6 problems in training config: overrides\.epochs: must be between"):
        resolve(
            "ultralytics",
            "detect",
            Mode.USER,
            {"epochs": 0, "imgsz": 33, "lr0": 0.01, "amp": 1, "bogus": True, "device": "gpu"},
        )


def test_unknown_framework_task_and_mode() -> None:
    with pytest.raises(ConfigInvalid) as caught:
        resolve("mmdet", "detect", "user", {})
    assert [(p.field, p.code) for p in caught.value.problems] == [("framework", "unknown_framework")]
    assert "ultralytics" in caught.value.problems[0].message

    with pytest.raises(ConfigInvalid) as caught:
        resolve("ultralytics", "regress", "admin", {"epochs": 3})
    assert [(p.field, p.code) for p in caught.value.problems] == [("task", "unknown_task"), ("mode", "unknown_mode")]
    assert "detect, segment, classify" in caught.value.problems[0].message
    assert "user, developer" in caught.value.problems[1].message

    # with a bad mode the overrides are still checked, so the caller sees everything at once
    problems = problems_of({"epochs": 0}, mode="root")
    assert [(p.field, p.code) for p in problems] == [("mode", "unknown_mode"), ("overrides.epochs", "out_of_range")]

    with pytest.raises(ConfigInvalid) as caught:
        default_config("ultralytics", "forecast")
    assert caught.value.problems[0].field == "task"
    with pytest.raises(ConfigInvalid):
        field_table("torch", "regress")


def test_overrides_must_be_a_mapping() -> None:
    bad: Any = [("epochs", 3)]
    with pytest.raises(ConfigInvalid) as caught:
        resolve("ultralytics", "detect", "user", bad)
    assert [(p.field, p.code) for p in caught.value.problems] == [("overrides", "wrong_type")]


def test_cli_preview_lists_overrides() -> None:
    config = resolve("ultralytics", "detect", "user", {"epochs": 3, "device": "0,1"})
    assert config.cli_preview.startswith("yolo detect train data=<dataset.yaml> model=yolo11n.yaml ")
    assert " epochs=3 " in config.cli_preview and " device=0,1 " in config.cli_preview
    # an option equal to Ultralytics' own default is left out
    assert "imgsz=" not in config.cli_preview and "optimizer=" not in config.cli_preview
    assert " imgsz=320" in resolve("ultralytics", "detect", "user", {"imgsz": 320}).cli_preview


def test_resolved_yaml_round_trips() -> None:
    overrides = {
        "lr0": 0.00125,
        "weight_decay": 1e-05,
        "freeze": None,
        "device": "cuda:0",
        "optimizer": "SGD",
        "cos_lr": True,
        "seed": 2**32 - 1,
    }
    for task in TASKS:
        config = resolve("ultralytics", task, "developer", overrides)
        assert yaml.safe_load(config.resolved_yaml) == config.values
