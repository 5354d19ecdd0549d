"""The audio_classify preset through the scheduler's resolver (found by its `modelyard.presets` entry point), the
trainer's framework registry and the agent's runtime registry: all three find the plugin without being told."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from modelyard.frameworks.jobspec import TrainJobSpec
from modelyard.plugins.audio.framework import CHILD_MODULE, AudioFramework
from modelyard.plugins.audio.job import read_spec, resolve_config
from modelyard.scheduler.presets import ConfigInvalid, Mode, default_config, field_table, frameworks, resolve


def test_the_scheduler_finds_the_audio_preset_and_its_seed_defaults() -> None:
    assert frameworks()["audio"] == ["audio_classify"]
    values = default_config("audio", "audio_classify").values
    assert values["epochs"] == 100 and values["batch_size"] == 32
    assert (values["n_mels"], values["n_fft"], values["hop_length"]) == (128, 2048, 512)
    assert (values["lr_scheduler"], values["warmup_epochs"], values["early_stop_patience"]) == ("cosine", 5, 10)
    assert (values["dropout_rate"], values["weight_decay"], values["lr"]) == (0.2, 0.0001, 0.001)
    user = {row["name"] for row in field_table("audio", "audio_classify") if row["user_mode"]}
    assert user == {"model_architecture", "epochs", "batch_size", "early_stop_patience", "sample_rate", "duration_s"}


def test_user_mode_sets_only_the_safe_subset_and_every_value_is_range_checked() -> None:
    resolved = resolve("audio", "audio_classify", Mode.USER, {"epochs": 5, "sample_rate": 8000})
    assert resolved.values["epochs"] == 5 and resolved.values["sample_rate"] == 8000
    assert resolved.resolved_yaml.startswith("# modelyard training config: framework=audio task=audio_classify")

    with pytest.raises(ConfigInvalid) as caught:
        resolve(
            "audio",
            "audio_classify",
            Mode.USER,
            {"lr": 0.1, "epochs": 0, "batch_size": 513, "model_architecture": "convnext_large"},
        )
    codes = {p.field: p.code for p in caught.value.problems}
    assert codes == {
        "overrides.lr": "developer_only",
        "overrides.epochs": "out_of_range",
        "overrides.batch_size": "out_of_range",
        "overrides.model_architecture": "bad_choice",
    }

    with pytest.raises(ConfigInvalid) as caught:
        resolve(
            "audio",
            "audio_classify",
            Mode.DEVELOPER,
            {"dropout_rate": 0.95, "lr_scheduler": "linear", "warmup_epochs": 2.5, "lr": 0, "n_mels": 300},
        )
    codes = {p.field: p.code for p in caught.value.problems}
    assert codes == {
        "overrides.dropout_rate": "out_of_range",
        "overrides.lr_scheduler": "bad_choice",
        "overrides.warmup_epochs": "wrong_type",
        "overrides.lr": "out_of_range",
        "overrides.n_mels": "out_of_range",
    }


def test_the_cli_preview_trains_with_exactly_the_resolved_values(tmp_path: Path) -> None:
    overrides = {"lr": 1e-05, "weight_decay": 0.0, "lr_scheduler": "plateau", "model_architecture": "convnext_mini"}
    resolved = resolve("audio", "audio_classify", Mode.DEVELOPER, overrides)
    argv = shlex.split(resolved.cli_preview)
    assert argv[:4] == ["python", "-m", CHILD_MODULE, "data=<dataset.yaml>"]
    spec = read_spec([f"data={tmp_path / 'data.yaml'}", *argv[4:]])
    assert resolve_config(spec.config) == resolved.values
    assert spec.dataset_yaml == str(tmp_path / "data.yaml") and spec.task == "audio_classify"


def test_the_trainer_and_the_agent_find_the_plugin_by_entry_point(tmp_path: Path) -> None:
    from modelyard.edge import runtimes
    from modelyard.trainer.frameworks import get

    framework = get("audio")
    assert isinstance(framework, AudioFramework) and framework.tasks == {"audio_classify"}
    spec = TrainJobSpec(job_id="j", attempt=1, task="audio_classify", dataset_yaml="d.yaml", workdir=str(tmp_path))
    argv = framework.command(spec)
    assert argv[1:4] == ["-m", CHILD_MODULE, "--spec"]
    assert TrainJobSpec.from_file(argv[4]) == spec
    with pytest.raises(ValueError, match="audio cannot train task 'detect'"):
        framework.command(TrainJobSpec(job_id="j", attempt=1, task="detect", dataset_yaml="d", workdir=str(tmp_path)))
    assert "audio_classify" in runtimes.tasks()
