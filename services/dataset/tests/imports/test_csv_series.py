"""CSV time series: one sample per file, with every bad row reported by line."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from modelyard.contracts.api.datasets import Task
from modelyard.contracts.api.samples import SampleKind
from modelyard.dataset.imports import ImportFailed, UploadKind, run_import

if TYPE_CHECKING:
    from .conftest import ZipBuilder

SERIES = "timestamp,load_kw,temp_c\n2024-01-15T10:00:00Z,1.5,3\n2024-01-15T10:15:00Z,1.7,\n2024-01-15T10:30:00Z,2,4.5\n"


def _failure(source: Path, workdir: Path) -> ImportFailed:
    with pytest.raises(ImportFailed) as caught:
        run_import(UploadKind.CSV_SERIES, source, workdir, task=Task.FORECAST, class_names=[])
    return caught.value


def test_csv_becomes_one_series_sample_described_by_its_metadata(tmp_path: Path, workdir: Path) -> None:
    source = tmp_path / "load.csv"
    source.write_text(SERIES)
    result = run_import(UploadKind.CSV_SERIES, source, workdir, task=Task.FORECAST, class_names=[])

    (sample,) = result.samples
    assert (sample.file, sample.source_path, sample.kind, sample.media_type) == (
        source,
        "load.csv",
        SampleKind.SERIES,
        "text/csv",
    )
    assert sample.metadata.captured_at == datetime(2024, 1, 15, 10, tzinfo=UTC)
    extra = sample.metadata.model_extra or {}
    assert extra["columns"] == ["timestamp", "load_kw", "temp_c"]
    assert extra["value_columns"] == ["load_kw", "temp_c"]
    assert (extra["rows"], extra["missing_values"]) == (3, 1)
    assert (extra["first_timestamp"], extra["last_timestamp"]) == (
        "2024-01-15T10:00:00+00:00",
        "2024-01-15T10:30:00+00:00",
    )


def test_zip_of_csvs_gives_one_sample_each(make_zip: ZipBuilder, workdir: Path) -> None:
    german = "Zeit;Leistung\n15.01.2024 10:00;1,5\n15.01.2024 10:15;1,75\n"
    source = make_zip({"site-a/load.csv": SERIES, "site-b/leistung.csv": german, "README.md": "two sites"})
    result = run_import(UploadKind.CSV_SERIES, source, workdir, task=Task.REGRESS, class_names=[])

    assert [s.source_path for s in result.samples] == ["site-a/load.csv", "site-b/leistung.csv"]
    german_sample = result.samples[1]
    assert german_sample.metadata.captured_at == datetime(2024, 1, 15, 10, tzinfo=UTC)
    assert (german_sample.metadata.model_extra or {})["timestamp_column"] == "Zeit"
    assert german_sample.file.is_relative_to(workdir)


def test_value_that_is_not_a_number_is_reported_with_its_line(tmp_path: Path, workdir: Path) -> None:
    source = tmp_path / "load.csv"
    source.write_text(SERIES + "2024-01-15T10:45:00Z,high,5\n")
    failure = _failure(source, workdir)
    assert [(p.file, p.line, p.message) for p in failure.problems] == [
        ("load.csv", 5, "column 'load_kw': 'high' is not a number")
    ]


def test_timestamp_that_does_not_increase_is_a_problem(tmp_path: Path, workdir: Path) -> None:
    source = tmp_path / "load.csv"
    source.write_text(SERIES + "2024-01-15T10:30:00Z,2,4\n2024-01-15T10:20:00Z,2,4\n")
    failure = _failure(source, workdir)
    assert [p.line for p in failure.problems] == [5, 6]
    assert "is not after the one on line 4" in failure.problems[0].message


def test_unreadable_timestamp_and_short_row_are_reported(tmp_path: Path, workdir: Path) -> None:
    source = tmp_path / "load.csv"
    source.write_text(SERIES + "yesterday,1,2\n2024-01-15T11:00:00Z,1\n")
    failure = _failure(source, workdir)
    assert [(p.line, p.message.split(" (")[0]) for p in failure.problems] == [
        (5, "timestamp 'yesterday' cannot be read"),
        (6, "expected 3 values, found 2"),
    ]


def test_csv_without_a_timestamp_column_is_a_problem(tmp_path: Path, workdir: Path) -> None:
    source = tmp_path / "values.csv"
    source.write_text("a,b\n1,2\n3,4\n")
    assert "no timestamp column" in _failure(source, workdir).problems[0].message


def test_pandas_index_column_without_a_name_holds_the_timestamps(tmp_path: Path, workdir: Path) -> None:
    source = tmp_path / "frame.csv"
    source.write_text(",value\n2024-01-01 00:00:00,1.0\n2024-01-01 01:00:00,2.0\n")
    (sample,) = run_import(UploadKind.CSV_SERIES, source, workdir, task=Task.FORECAST, class_names=[]).samples
    assert (sample.metadata.model_extra or {})["value_columns"] == ["value"]


def test_windows_1252_file_with_semicolons_and_decimal_commas_is_read(tmp_path: Path, workdir: Path) -> None:
    source = tmp_path / "messung.csv"
    source.write_bytes("Datum;Temperatur °C;Preis €\n01.02.2024;3,5;1,20\n13.02.2024;-1,25;1,30\n".encode("cp1252"))
    (sample,) = run_import(UploadKind.CSV_SERIES, source, workdir, task=Task.FORECAST, class_names=[]).samples
    extra = sample.metadata.model_extra or {}
    assert (extra["encoding"], extra["delimiter"], extra["timestamp_column"]) == ("cp1252", ";", "Datum")
    assert extra["last_timestamp"] == "2024-02-13T00:00:00+00:00"
