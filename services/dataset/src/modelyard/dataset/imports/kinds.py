"""Kinds of upload, and which dataset tasks each can feed."""

from __future__ import annotations

from collections.abc import Mapping

from modelyard.contracts.api.datasets import Task
from modelyard.contracts.api.uploads import UploadKind as UploadKind  # the contract is the one definition

# Frame ratings are a regression target (a score 0..1), so they feed regress datasets only.
TASKS_BY_KIND: Mapping[UploadKind, tuple[Task, ...]] = {
    UploadKind.YOLO_ZIP: (Task.DETECT, Task.SEGMENT, Task.CLASSIFY),
    UploadKind.ANNOTATIONS_JSONL: (Task.REGRESS,),
    UploadKind.CSV_SERIES: (Task.FORECAST, Task.REGRESS),
    UploadKind.AUDIO_ZIP: (Task.AUDIO_CLASSIFY,),
}


def task_mismatch(kind: UploadKind, task: Task) -> str | None:
    """Why an upload of this kind cannot go into a dataset of this task, or None when it can."""
    allowed = TASKS_BY_KIND[kind]
    if task in allowed:
        return None
    names = ", ".join(str(t) for t in allowed[:-1])
    wanted = f"{names} or {allowed[-1]}" if names else str(allowed[0])
    return f"an upload of kind '{kind}' cannot be imported into a '{task}' dataset; it needs a {wanted} dataset"
