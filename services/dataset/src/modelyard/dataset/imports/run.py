"""The one entry point: check an upload on local disk and say what to store, or raise with every problem found.

Pure: no network, no database. Zip contents are extracted into a fresh folder under `workdir` (the samples' files
point there; the caller stores them, then removes `workdir`). When the import fails, that folder is removed again.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path

from modelyard.contracts.api.datasets import Task
from modelyard.dataset.imports.audio import import_audio_zip
from modelyard.dataset.imports.csv_series import import_csv_series
from modelyard.dataset.imports.jsonl import import_annotations_jsonl
from modelyard.dataset.imports.kinds import UploadKind, task_mismatch
from modelyard.dataset.imports.limits import ImportLimits
from modelyard.dataset.imports.problems import ImportFailed, ImportProblem
from modelyard.dataset.imports.results import ImportResult
from modelyard.dataset.imports.yolo import import_yolo_zip

Importer = Callable[..., ImportResult]

IMPORTERS: Mapping[UploadKind, Importer] = {
    UploadKind.YOLO_ZIP: import_yolo_zip,
    UploadKind.ANNOTATIONS_JSONL: import_annotations_jsonl,
    UploadKind.CSV_SERIES: import_csv_series,
    UploadKind.AUDIO_ZIP: import_audio_zip,
}

DEFAULT_LIMITS = ImportLimits()


def run_import(
    kind: UploadKind,
    source: Path,
    workdir: Path,
    *,
    task: Task,
    class_names: list[str],
    limits: ImportLimits = DEFAULT_LIMITS,
    upload_name: str | None = None,
) -> ImportResult:
    """Import `source`. `upload_name`, the name the user gave the file, names it in problems and, for a single
    CSV, in the sample's source_path; it defaults to the file's own name."""
    upload = upload_name or source.name
    kind = UploadKind(kind)
    mismatch = task_mismatch(kind, Task(task))
    if mismatch is not None:
        raise ImportFailed([ImportProblem(upload, None, mismatch)])
    if not source.is_file():
        raise ImportFailed([ImportProblem(upload, None, "the upload is missing or is not a file")])
    workdir.mkdir(parents=True, exist_ok=True)
    target = Path(tempfile.mkdtemp(prefix=f"{kind}-", dir=workdir))
    try:
        importer = IMPORTERS[kind]
        return importer(source, target, upload=upload, task=Task(task), class_names=list(class_names), limits=limits)
    except BaseException:
        shutil.rmtree(target, ignore_errors=True)
        raise
