"""One attempt of one training job, as a framework's child process sees it: the trainer writes it to a JSON file in
the attempt's workdir and passes the path; every framework plugin reads it the same way."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

SPEC_FILENAME = "trainjob.json"


@dataclass(frozen=True)
class TrainJobSpec:
    """One attempt of one training job, as the child process sees it. Written to a JSON file the child reads.

    `config` holds the framework's training arguments exactly as the scheduler resolved them (for Ultralytics:
    `model`, `epochs`, `imgsz`, `batch`, `lr0`, ...). `resume_from` is a checkpoint of an earlier attempt of the same
    job (after a crash) to continue from, else None.
    """

    job_id: str
    attempt: int
    task: str
    dataset_yaml: str
    workdir: str
    config: dict[str, Any] = field(default_factory=dict)
    resume_from: str | None = None
    device: str = "cpu"

    def __post_init__(self) -> None:
        for name in ("job_id", "task", "dataset_yaml", "workdir", "device"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value:
                raise ValueError(f"TrainJobSpec.{name} must be a non-empty string, got {value!r}")
        if isinstance(self.attempt, bool) or not isinstance(self.attempt, int) or self.attempt < 1:
            raise ValueError(f"TrainJobSpec.attempt must be an integer >= 1, got {self.attempt!r}")
        if not isinstance(self.config, dict) or not all(isinstance(k, str) for k in self.config):
            raise ValueError("TrainJobSpec.config must be a JSON object with string keys")
        if self.resume_from is not None and (not isinstance(self.resume_from, str) or not self.resume_from):
            raise ValueError(f"TrainJobSpec.resume_from must be a path or None, got {self.resume_from!r}")

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True, allow_nan=False)

    @classmethod
    def from_json(cls, text: str | bytes) -> TrainJobSpec:
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("a train job spec must be a JSON object")
        return cls.from_dict(data)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrainJobSpec:
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown train job spec fields: {', '.join(unknown)}")
        missing = sorted(f for f in ("job_id", "attempt", "task", "dataset_yaml", "workdir") if f not in data)
        if missing:
            raise ValueError(f"train job spec is missing: {', '.join(missing)}")
        return cls(**data)

    def to_file(self, path: str | os.PathLike[str]) -> Path:
        """Write the spec atomically (a reader never sees half a file); returns the path."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        tmp.write_text(self.to_json() + "\n", encoding="utf-8")
        tmp.replace(target)
        return target

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> TrainJobSpec:
        return cls.from_json(Path(path).read_bytes())
