"""The trainer's side of the plugin (`modelyard.trainer.frameworks` entry point): cheap to import, no torch, no
scikit-learn. The training itself runs in the child, `python -m modelyard.plugins.forecast.train --spec FILE`."""

from __future__ import annotations

import sys
from pathlib import Path

from modelyard.frameworks.jobspec import SPEC_FILENAME, TrainJobSpec
from modelyard.plugins.forecast import FRAMEWORK, TASK

CHILD_MODULE = "modelyard.plugins.forecast.train"


class ForecastFramework:
    name = FRAMEWORK
    tasks: frozenset[str] = frozenset({TASK})

    def __init__(self, python: str | None = None) -> None:
        self.python = python or sys.executable

    def command(self, job: TrainJobSpec) -> list[str]:
        """Write the job's spec into its workdir and return the argv that trains it."""
        if job.task not in self.tasks:
            raise ValueError(f"{self.name} cannot train task {job.task!r}; it trains {', '.join(sorted(self.tasks))}")
        spec = job.to_file(Path(job.workdir) / SPEC_FILENAME)
        return [self.python, "-m", CHILD_MODULE, "--spec", str(spec)]
