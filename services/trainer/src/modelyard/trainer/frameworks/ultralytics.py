"""Ultralytics YOLO as a training framework: detect, segment and classify.

This module is what the worker imports; it never imports ultralytics or torch. The training itself runs in the
child, `python -m modelyard.trainer.frameworks.ultralytics_run --spec FILE`.
"""

from __future__ import annotations

import sys
from pathlib import Path

from modelyard.frameworks.jobspec import SPEC_FILENAME, TrainJobSpec

CHILD_MODULE = "modelyard.trainer.frameworks.ultralytics_run"

# A model YAML builds the network from scratch (no download); a local .pt path fine-tunes from weights.
DEFAULT_MODELS: dict[str, str] = {
    "detect": "yolo11n.yaml",
    "segment": "yolo11n-seg.yaml",
    "classify": "yolo11n-cls.yaml",
}


class UltralyticsFramework:
    name = "ultralytics"
    tasks: frozenset[str] = frozenset(DEFAULT_MODELS)

    def __init__(self, python: str | None = None) -> None:
        self.python = python or sys.executable

    def command(self, job: TrainJobSpec) -> list[str]:
        """Write the job's spec into its workdir and return the argv that trains it."""
        if job.task not in self.tasks:
            raise ValueError(f"ultralytics cannot train task {job.task!r}; it trains {', '.join(sorted(self.tasks))}")
        spec = job.to_file(Path(job.workdir) / SPEC_FILENAME)
        return [self.python, "-m", CHILD_MODULE, "--spec", str(spec)]
