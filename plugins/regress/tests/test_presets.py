"""The regress preset through the scheduler's resolver (as the entry point registers it): user mode sets the safe
subset, developer mode everything, every value is range-checked, and the CLI preview trains the resolved config."""

from __future__ import annotations

import shlex
from importlib.metadata import entry_points

import pytest

from modelyard.frameworks import presets as registry
from modelyard.frameworks.model import ConfigInvalid, Mode
from modelyard.plugins.regress import presets
from modelyard.plugins.regress.train import UsageError, parse_overrides
from modelyard.scheduler.presets import default_config, field_table, frameworks, resolve

USER_FIELDS = {"epochs", "imgsz", "batch", "patience", "device"}


def test_the_installed_entry_points_name_this_plugin() -> None:
    by_group = {
        group: {ep.name: ep.value for ep in entry_points(group=group)}
        for group in ("modelyard.presets", "modelyard.trainer.frameworks", "modelyard.edge.runtimes")
    }
    assert by_group["modelyard.presets"]["regress"] == "modelyard.plugins.regress.presets:register"
    assert by_group["modelyard.trainer.frameworks"]["regress"] == "modelyard.plugins.regress.framework:RegressFramework"
    assert by_group["modelyard.edge.runtimes"]["regress"] == "modelyard.plugins.regress.edge:load"


def test_the_scheduler_knows_the_framework_and_its_preset_matches_the_field_table() -> None:
    assert frameworks()["regress"] == ["regress"]
    presets.register()  # a second registration changes nothing
    values = registry.preset_values(presets.PRESET)
    assert list(values) == [spec.name for spec in presets.FIELDS]
    assert values["epochs"] == 30 and values["optimizer"] == "adamw" and values["device"] == "cpu"
    rows = {row["name"]: row for row in field_table("regress", "regress")}
    assert {name for name, row in rows.items() if row["user_mode"]} == USER_FIELDS
    assert rows["optimizer"]["choices"] == ["adam", "adamw", "sgd"]
    assert (rows["imgsz"]["min"], rows["imgsz"]["max"], rows["imgsz"]["multiple_of"]) == (32, 1024, 32)


def test_user_mode_sets_the_run_and_is_refused_the_optimiser() -> None:
    resolved = resolve("regress", "regress", Mode.USER, {"epochs": 5, "imgsz": 64, "batch": 4, "device": 0})
    assert (resolved.values["epochs"], resolved.values["imgsz"], resolved.values["device"]) == (5, 64, "0")
    with pytest.raises(ConfigInvalid) as refused:
        resolve("regress", "regress", Mode.USER, {"lr": 0.01, "optimizer": "sgd", "epochs": 2})
    assert [(p.field, p.code) for p in refused.value.problems] == [
        ("overrides.lr", "developer_only"),
        ("overrides.optimizer", "developer_only"),
    ]
    assert "user mode may set only batch, device, epochs, imgsz, patience" in refused.value.problems[0].message


def test_developer_mode_sets_everything_within_range() -> None:
    overrides = {"optimizer": "sgd", "lr": 0.05, "weight_decay": 0.001, "dropout": 0.3, "loss": "huber", "seed": 7}
    values = resolve("regress", "regress", Mode.DEVELOPER, overrides).values
    assert {name: values[name] for name in overrides} == overrides
    bad = {
        "epochs": 0,
        "imgsz": 48,
        "optimizer": "lion",
        "lr": 0.0,
        "dropout": 0.95,
        "fliplr": "0.5",
        "width": 2.5,
        "nonsense": 1,
    }
    with pytest.raises(ConfigInvalid) as refused:
        resolve("regress", "regress", Mode.DEVELOPER, bad)
    codes = {p.field.removeprefix("overrides."): p.code for p in refused.value.problems}
    assert codes == {
        "epochs": "out_of_range",
        "imgsz": "invalid_value",
        "optimizer": "bad_choice",
        "lr": "out_of_range",
        "dropout": "out_of_range",
        "fliplr": "wrong_type",
        "width": "wrong_type",
        "nonsense": "unknown_option",
    }


def test_the_cli_preview_lists_every_option_and_reads_back_to_the_same_values() -> None:
    resolved = resolve("regress", "regress", Mode.DEVELOPER, {"epochs": 3, "lr": 0.0005, "device": "cuda:1"})
    words = shlex.split(resolved.cli_preview)
    assert words[:7] == [
        "python",
        "-m",
        "modelyard.plugins.regress.train",
        "--data",
        "<dataset.yaml>",
        "--workdir",
        "<workdir>",
    ]
    assert parse_overrides(words[7:]) == resolved.values
    assert default_config("regress", "regress").cli_preview.count("=") == len(presets.FIELDS)


def test_the_direct_mode_refuses_what_the_resolver_refuses() -> None:
    with pytest.raises(UsageError, match="epochs: must be between 1 and 1000, got 0") as refused:
        parse_overrides(["epochs=0", "colour=red", "lr"])
    assert "'colour=red': expected key=value" in str(refused.value) and "'lr': expected" in str(refused.value)
