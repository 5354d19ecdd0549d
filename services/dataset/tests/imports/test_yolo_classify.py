"""Ultralytics classify datasets: a folder per class under train/ and val/."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from modelyard.contracts.api.datasets import Task
from modelyard.contracts.api.samples import Split
from modelyard.dataset.imports import ImportFailed, UploadKind, run_import

if TYPE_CHECKING:
    from .conftest import ZipBuilder


def test_classify_dataset_numbers_class_folders_by_name(
    make_zip: ZipBuilder, workdir: Path, png: bytes, jpeg: bytes
) -> None:
    source = make_zip(
        {
            "pets/train/dog/1.png": png,
            "pets/train/cat/2.jpg": jpeg,
            "pets/val/dog/3.png": png,
            "pets/test/cat/4.png": png,
        }
    )
    result = run_import(UploadKind.YOLO_ZIP, source, workdir, task=Task.CLASSIFY, class_names=[])

    assert result.class_names == ["cat", "dog"]
    found = {(s.source_path, s.labels.class_id, s.split) for s in result.samples}
    assert found == {
        ("pets/train/dog/1.png", 1, Split.TRAIN),
        ("pets/train/cat/2.jpg", 0, Split.TRAIN),
        ("pets/val/dog/3.png", 1, Split.VAL),
        ("pets/test/cat/4.png", 0, Split.VAL),
    }


def test_classify_uses_the_datasets_class_order(make_zip: ZipBuilder, workdir: Path, png: bytes) -> None:
    source = make_zip({"train/dog/1.png": png, "train/cat/2.png": png})
    result = run_import(UploadKind.YOLO_ZIP, source, workdir, task=Task.CLASSIFY, class_names=["dog", "cat"])
    assert {s.source_path: s.labels.class_id for s in result.samples} == {"train/dog/1.png": 0, "train/cat/2.png": 1}


def test_class_folder_outside_the_datasets_classes_is_a_problem(
    make_zip: ZipBuilder, workdir: Path, png: bytes
) -> None:
    source = make_zip({"train/dog/1.png": png, "train/horse/2.png": png, "train/horse/3.png": png})
    with pytest.raises(ImportFailed) as caught:
        run_import(UploadKind.YOLO_ZIP, source, workdir, task=Task.CLASSIFY, class_names=["dog", "cat"])
    problems = caught.value.problems
    assert [p.file for p in problems] == ["train/horse"]
    assert "class folder 'horse' is not in the class list" in problems[0].message


def test_data_yaml_names_may_add_a_class_folder(make_zip: ZipBuilder, workdir: Path, png: bytes) -> None:
    source = make_zip({"data.yaml": "names: [dog, cat, horse]\n", "train/horse/2.png": png})
    result = run_import(UploadKind.YOLO_ZIP, source, workdir, task=Task.CLASSIFY, class_names=["dog", "cat"])
    assert result.class_names == ["dog", "cat", "horse"]
    assert result.samples[0].labels.class_id == 2
