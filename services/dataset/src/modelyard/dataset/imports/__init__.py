"""Importing user uploads into a dataset: YOLO zips, frame-rating JSONL, CSV time series, audio clip zips.

`run_import` validates an upload on local disk and returns the samples to store (files extracted under the given
work folder), the ratings for frames already stored, and the dataset's class list after the import; or it raises
`ImportFailed` listing every problem by file and line. It does no network or database I/O, so a bad upload stores
nothing.
"""

from modelyard.dataset.imports.kinds import UploadKind
from modelyard.dataset.imports.limits import ImportLimits
from modelyard.dataset.imports.problems import ImportFailed, ImportProblem
from modelyard.dataset.imports.results import ImportedSample, ImportResult, RatingUpdate
from modelyard.dataset.imports.run import run_import

__all__ = [
    "ImportFailed",
    "ImportLimits",
    "ImportProblem",
    "ImportResult",
    "ImportedSample",
    "RatingUpdate",
    "UploadKind",
    "run_import",
]
