"""Importing time series (kind csv_series): one .csv file, or a zip of .csv files (other files in it are ignored).

Each CSV becomes one series sample (media type text/csv) whose metadata describes it: columns, timestamp_column,
value_columns, rows, first_timestamp, last_timestamp, missing_values, delimiter, encoding; captured_at is the first
timestamp. The checks themselves are in series_file.
"""

from __future__ import annotations

from pathlib import Path

from modelyard.contracts.api.datasets import Task
from modelyard.contracts.api.samples import Labels, SampleKind, SampleMetadata
from modelyard.dataset.imports.archive import extract_zip, is_zip
from modelyard.dataset.imports.limits import ImportLimits
from modelyard.dataset.imports.plain_upload import check_plain_upload
from modelyard.dataset.imports.problems import ImportFailed, ImportProblem, ProblemLog
from modelyard.dataset.imports.results import ImportedSample, ImportResult
from modelyard.dataset.imports.series_file import SeriesSummary, read_series
from modelyard.dataset.imports.tree import suffix_of

MEDIA_TYPE = "text/csv"


def _sample(path: Path, name: str, summary: SeriesSummary) -> ImportedSample:
    metadata = SampleMetadata.model_validate(
        {
            "source_path": name,
            "captured_at": summary.first,
            "columns": summary.columns,
            "timestamp_column": summary.timestamp_column,
            "value_columns": summary.value_columns,
            "rows": summary.rows,
            "first_timestamp": summary.first.isoformat(),
            "last_timestamp": summary.last.isoformat(),
            "missing_values": summary.missing_values,
            "delimiter": summary.delimiter,
            "encoding": summary.encoding,
        }
    )
    return ImportedSample(
        file=path,
        source_path=name,
        kind=SampleKind.SERIES,
        media_type=MEDIA_TYPE,
        labels=Labels(),
        rating=None,
        split=None,
        metadata=metadata,
    )


def _files(source: Path, upload: str, workdir: Path, limits: ImportLimits) -> list[tuple[str, Path]]:
    if is_zip(source):
        tree = extract_zip(source, workdir, limits, upload)
        files = [(name, tree.path(name)) for name in tree.files if suffix_of(name) == ".csv"]
        if not files:
            raise ImportFailed([ImportProblem(upload, None, "the archive holds no .csv files")])
        return files
    check_plain_upload(source, limits, upload)
    return [(upload, source)]


def import_csv_series(
    source: Path, workdir: Path, *, upload: str, task: Task, class_names: list[str], limits: ImportLimits
) -> ImportResult:
    log = ProblemLog()
    samples: list[ImportedSample] = []
    for name, path in _files(source, upload, workdir, limits):
        summary = read_series(path, name, log)
        if summary is not None:
            samples.append(_sample(path, name, summary))
    log.raise_if_any()
    return ImportResult(samples=samples, rating_updates=[], class_names=list(class_names))
