"""The entry point: kind/task compatibility, clean-up after a failure, the error's summary."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from modelyard.contracts.api.datasets import Task
from modelyard.dataset.imports import ImportFailed, ImportProblem, UploadKind, run_import

if TYPE_CHECKING:
    from .conftest import ZipBuilder


@pytest.mark.parametrize(
    ("kind", "task"),
    [
        (UploadKind.YOLO_ZIP, Task.FORECAST),
        (UploadKind.ANNOTATIONS_JSONL, Task.CLASSIFY),
        (UploadKind.CSV_SERIES, Task.DETECT),
    ],
)
def test_kind_that_cannot_feed_the_datasets_task_is_one_problem(
    tmp_path: Path, workdir: Path, kind: UploadKind, task: Task
) -> None:
    source = tmp_path / "upload.bin"
    source.write_bytes(b"anything")
    with pytest.raises(ImportFailed) as caught:
        run_import(kind, source, workdir, task=task, class_names=[])
    (problem,) = caught.value.problems
    assert f"kind '{kind}'" in problem.message and f"'{task}' dataset" in problem.message


def test_failed_import_leaves_nothing_in_the_workdir(make_zip: ZipBuilder, workdir: Path, png: bytes) -> None:
    source = make_zip({"data.yaml": "names: [a]\ntrain: images\n", "images/a.png": png, "labels/a.txt": "3 0 0 0 0"})
    with pytest.raises(ImportFailed):
        run_import(UploadKind.YOLO_ZIP, source, workdir, task=Task.DETECT, class_names=[])
    assert list(workdir.iterdir()) == []


def test_yolo_upload_that_is_not_a_zip_is_refused(tmp_path: Path, workdir: Path) -> None:
    source = tmp_path / "upload.zip"
    source.write_text("plain text")
    with pytest.raises(ImportFailed) as caught:
        run_import(UploadKind.YOLO_ZIP, source, workdir, task=Task.DETECT, class_names=[])
    assert [str(p) for p in caught.value.problems] == ["upload.zip: the upload is not a zip archive"]


def test_import_failed_summarises_the_first_problems_and_survives_copying() -> None:
    problems = [ImportProblem(file="labels/a.txt", line=n, message=f"bad {n}") for n in range(1, 6)]
    error = ImportFailed(problems)
    assert str(error) == (
        "5 problems in the upload: labels/a.txt:1: bad 1; labels/a.txt:2: bad 2; labels/a.txt:3: bad 3 (and 2 more)"
    )
    assert copy.deepcopy(error).problems == problems


def test_upload_name_names_the_downloaded_file_in_samples_and_problems(tmp_path: Path, workdir: Path) -> None:
    source = tmp_path / "upload"
    source.write_text("time,v\n2024-01-01,1\n2024-01-02,2\n")
    result = run_import(
        UploadKind.CSV_SERIES, source, workdir, task=Task.FORECAST, class_names=[], upload_name="site-a.csv"
    )
    assert result.samples[0].source_path == result.samples[0].metadata.source_path == "site-a.csv"

    with pytest.raises(ImportFailed) as caught:
        run_import(UploadKind.YOLO_ZIP, source, workdir, task=Task.DETECT, class_names=[], upload_name="cars.zip")
    assert caught.value.problems[0].file == "cars.zip"
