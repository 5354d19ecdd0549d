"""The one check a single-file (not zipped) upload gets before it is read: its size."""

from __future__ import annotations

from pathlib import Path

from modelyard.dataset.imports.limits import ImportLimits
from modelyard.dataset.imports.problems import ImportFailed, ImportProblem


def check_plain_upload(source: Path, limits: ImportLimits, upload: str) -> None:
    size = source.stat().st_size
    if size > limits.max_file_bytes:
        message = f"the upload is {size} bytes, more than the limit of {limits.max_file_bytes}"
        raise ImportFailed([ImportProblem(upload, None, message)])
