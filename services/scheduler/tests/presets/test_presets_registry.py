"""A second framework plugs in through the registry alone."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from modelyard.frameworks import presets as registry
from modelyard.scheduler.presets import (
    ConfigInvalid,
    FieldKind,
    FieldSpec,
    PresetError,
    TaskPreset,
    field_table,
    frameworks,
    register,
    resolve,
)

FIELDS = (
    FieldSpec("epochs", FieldKind.INT, "epochs", user_mode=True, min=1, max=1000),
    FieldSpec("learning_rate", FieldKind.FLOAT, "learning rate", min=0.0, max=1.0, exclusive_min=True),
    FieldSpec("scheduler", FieldKind.CHOICE, "lr schedule", choices=("cosine", "step", "plateau")),
)


def render(task: str, values: Mapping[str, Any]) -> str:
    return f"python -m train --task {task} " + " ".join(f"--{k}={v}" for k, v in values.items())


@pytest.fixture
def isolated_registry(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    """A private copy of the registry, and a package `fake_presets_pkg` in tmp_path to hold preset files."""
    monkeypatch.setattr(registry, "_presets", {name: dict(tasks) for name, tasks in registry._presets.items()})
    monkeypatch.setattr(registry, "_values", {})
    package = tmp_path / "fake_presets_pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "torch_regress.yaml").write_text("epochs: 20\nlearning_rate: 0.001\nscheduler: cosine\n")
    (package / "torch_broken.yaml").write_text("epochs: 0\nlearning_rate: 0.001\nscheduler: cosine\n")
    (package / "torch_short.yaml").write_text("epochs: 5\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "fake_presets_pkg", raising=False)
    return "fake_presets_pkg"


def test_a_new_framework_plugs_in(isolated_registry: str) -> None:
    register(TaskPreset("torch", "regress", FIELDS, "torch_regress.yaml", render, preset_package=isolated_registry))
    listed = frameworks()
    assert listed["ultralytics"] == ["detect", "segment", "classify"] and listed["torch"] == ["regress"]
    config = resolve("torch", "regress", "user", {"epochs": 5})
    assert config.values == {"epochs": 5, "learning_rate": 0.001, "scheduler": "cosine"}
    assert config.cli_preview == "python -m train --task regress --epochs=5 --learning_rate=0.001 --scheduler=cosine"
    assert [row["name"] for row in field_table("torch", "regress")] == ["epochs", "learning_rate", "scheduler"]
    with pytest.raises(ConfigInvalid) as caught:
        resolve("torch", "regress", "user", {"scheduler": "step"})
    assert caught.value.problems[0].code == "developer_only"


def test_registering_twice_is_refused(isolated_registry: str) -> None:
    preset = TaskPreset("torch", "regress", FIELDS, "torch_regress.yaml", render, preset_package=isolated_registry)
    register(preset)
    with pytest.raises(ValueError, match="already registered"):
        register(preset)
    with pytest.raises(ValueError, match="duplicate field names"):
        register(TaskPreset("torch", "forecast", FIELDS + FIELDS[:1], "x.yaml", render, "x"))


@pytest.mark.parametrize(
    ("preset_file", "message"),
    [
        ("torch_broken.yaml", "epochs must be between 1 and 1000"),
        ("torch_short.yaml", "does not match its field table"),
        ("torch_missing.yaml", "is missing"),
    ],
)
def test_a_broken_preset_is_a_programming_error(isolated_registry: str, preset_file: str, message: str) -> None:
    register(TaskPreset("torch", "regress", FIELDS, preset_file, render, preset_package=isolated_registry))
    with pytest.raises(PresetError, match=message):
        resolve("torch", "regress", "developer", {})


def test_field_spec_sanity_checks() -> None:
    with pytest.raises(ValueError, match="choices"):
        FieldSpec("optimizer", FieldKind.CHOICE, "no choices")
    with pytest.raises(ValueError, match="min/max"):
        FieldSpec("amp", FieldKind.BOOL, "bool with a range", min=0)
    with pytest.raises(ValueError, match="min > max"):
        FieldSpec("epochs", FieldKind.INT, "inverted", min=10, max=1)


def test_installed_framework_plugins_are_loaded_through_their_entry_points() -> None:
    """The scheduler knows nothing of them: `modelyard.presets` entry points register them on import."""
    from importlib.metadata import entry_points

    installed = {ep.name for ep in entry_points(group=registry.ENTRY_POINT_GROUP)}
    assert installed, "no framework plugin is installed in this environment"
    assert installed <= set(frameworks()) and not registry.broken_plugins()
