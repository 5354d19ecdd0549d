"""The job the training child runs: a TrainJobSpec from --spec (as the trainer worker starts it), or built from
`data=<dataset.yaml> key=value ...` settings (the preset's CLI preview, for people), with its config checked against
the preset's field table exactly as the scheduler's resolver checks it in developer mode."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from modelyard.frameworks.fields import InvalidValue
from modelyard.frameworks.jobspec import TrainJobSpec
from modelyard.frameworks.presets import preset_values
from modelyard.plugins.audio.presets import PRESET, TASK

CLI_KEYS = ("data", "workdir", "device", "resume")
DEFAULT_CLI_WORKDIR = "runs/audio"
USAGE = (
    "train an audio classifier: --spec FILE, or data=<dataset.yaml> [workdir=DIR] [device=cpu] [resume=PT] key=value"
)


def _parse_value(text: str) -> Any:
    """A key=value value as JSON would carry it: an int, a float, true/false, else the string itself."""
    for convert in (int, float):
        try:
            return convert(text)
        except ValueError:
            pass
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    return text


def read_spec(argv: Sequence[str] | None) -> TrainJobSpec:
    """The job to run: from --spec, or from key=value settings (the preset's CLI preview)."""
    parser = argparse.ArgumentParser(prog="modelyard.plugins.audio.train", description=USAGE)
    parser.add_argument("--spec", help="path to the TrainJobSpec JSON file")
    parser.add_argument("settings", nargs="*", metavar="KEY=VALUE", help="data=<dataset.yaml> and preset values")
    try:
        args = parser.parse_args(argv)
    except SystemExit as stop:  # argparse has printed why to stderr
        raise ValueError(f"bad command line: {' '.join(argv or sys.argv[1:])}") from stop
    if args.spec:
        if args.settings:
            raise ValueError("give either --spec or key=value settings, not both")
        try:
            return TrainJobSpec.from_file(args.spec)
        except (OSError, ValueError) as error:
            raise ValueError(f"cannot read train job spec {args.spec}: {error}") from error
    pairs: dict[str, str] = {}
    for item in args.settings:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"expected key=value, got {item!r}")
        pairs[key] = value
    if "data" not in pairs:
        raise ValueError("give --spec FILE, or data=<dataset.yaml> and any key=value settings")
    config = {k: _parse_value(v) for k, v in pairs.items() if k not in CLI_KEYS}
    return TrainJobSpec(
        job_id="cli",
        attempt=1,
        task=TASK,
        dataset_yaml=pairs["data"],
        workdir=pairs.get("workdir") or DEFAULT_CLI_WORKDIR,
        config=config,
        resume_from=pairs.get("resume") or None,
        device=pairs.get("device") or "cpu",
    )


def resolve_config(given: Mapping[str, Any]) -> dict[str, Any]:
    """The preset with `given` applied, every value checked against the field table (developer mode: all fields)."""
    values = preset_values(PRESET)
    problems = []
    for name, raw in given.items():
        spec = PRESET.field(name)
        if spec is None:
            problems.append(f"unknown option {name!r}")
            continue
        try:
            values[name] = spec.check(raw)
        except InvalidValue as error:
            problems.append(f"{name} {error.message}")
    if problems:
        raise ValueError("invalid training config: " + "; ".join(problems))
    return values
