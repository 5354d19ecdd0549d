"""The audio framework as the trainer worker sees it: the command that trains a job. Cheap to import (no torch): the
training itself runs in the child, `python -m modelyard.plugins.audio.train --spec FILE`."""

from __future__ import annotations

import sys
from pathlib import Path

from modelyard.frameworks.jobspec import SPEC_FILENAME, TrainJobSpec

CHILD_MODULE = "modelyard.plugins.audio.train"


class AudioFramework:
    name = "audio"
    tasks: frozenset[str] = frozenset({"audio_classify"})

    def __init__(self, python: str | None = None) -> None:
        self.python = python or sys.executable

    def command(self, job: TrainJobSpec) -> list[str]:
        """Write the job's spec into its workdir and return the argv that trains it."""
        if job.task not in self.tasks:
            raise ValueError(f"audio cannot train task {job.task!r}; it trains {', '.join(sorted(self.tasks))}")
        spec = job.to_file(Path(job.workdir) / SPEC_FILENAME)
        return [self.python, "-m", CHILD_MODULE, "--spec", str(spec)]
