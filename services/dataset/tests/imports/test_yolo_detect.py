"""Ultralytics detect datasets: layouts, labels, class lists, and the problems reported with file and line."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from modelyard.contracts.api.datasets import Task
from modelyard.contracts.api.samples import Box, SampleKind, Split
from modelyard.dataset.imports import ImportFailed, UploadKind, run_import

if TYPE_CHECKING:
    from .conftest import ZipBuilder

DATA_YAML = "names: [car, bus]\ntrain: images/train\nval: images/val\n"
TRAIN_ONLY = "names: [car, bus]\ntrain: images/train\n"


def _failure(source: Path, workdir: Path, class_names: list[str] | None = None) -> ImportFailed:
    with pytest.raises(ImportFailed) as caught:
        run_import(UploadKind.YOLO_ZIP, source, workdir, task=Task.DETECT, class_names=class_names or [])
    return caught.value


def test_detect_dataset_imports_images_with_their_boxes_and_splits(
    make_zip: ZipBuilder, workdir: Path, png: bytes, jpeg: bytes
) -> None:
    source = make_zip(
        {
            "data.yaml": DATA_YAML,
            "images/train/a.png": png,
            "labels/train/a.txt": "0 0.5 0.5 0.2 0.4\n1 0.1 0.2 0.05 0.05\n",
            "images/train/b.jpg": jpeg,
            "images/val/c.png": png,
            "labels/val/c.txt": "1 0.5 0.5 1 1\n",
            "labels/train.cache": b"ultralytics cache",
        }
    )
    result = run_import(UploadKind.YOLO_ZIP, source, workdir, task=Task.DETECT, class_names=[])

    assert result.class_names == ["car", "bus"]
    assert result.rating_updates == []
    by_path = {sample.source_path: sample for sample in result.samples}
    assert sorted(by_path) == ["images/train/a.png", "images/train/b.jpg", "images/val/c.png"]
    a = by_path["images/train/a.png"]
    assert a.labels.boxes == [
        Box(class_id=0, x=0.5, y=0.5, w=0.2, h=0.4),
        Box(class_id=1, x=0.1, y=0.2, w=0.05, h=0.05),
    ]
    assert (a.kind, a.media_type, a.split) == (SampleKind.IMAGE, "image/png", Split.TRAIN)
    assert (a.metadata.width, a.metadata.height, a.metadata.source_path) == (12, 8, "images/train/a.png")
    assert a.file.read_bytes() == png and a.file.is_relative_to(workdir)
    assert by_path["images/train/b.jpg"].labels.empty
    assert by_path["images/train/b.jpg"].media_type == "image/jpeg"
    assert by_path["images/val/c.png"].split is Split.VAL


def test_roboflow_layout_in_a_top_folder_with_parent_relative_paths_is_read(
    make_zip: ZipBuilder, workdir: Path, png: bytes
) -> None:
    source = make_zip(
        {
            "cars/data.yaml": "nc: 1\nnames: {0: car}\ntrain: ../train/images\nval: ../valid/images\n"
            "test: ../test/images\n",
            "cars/train/images/a.png": png,
            "cars/train/labels/a.txt": "0 0.5 0.5 0.2 0.2\n",
            "cars/valid/images/b.png": png,
            "cars/test/images/c.png": png,
            "cars/README.roboflow.txt": "exported",
        }
    )
    result = run_import(UploadKind.YOLO_ZIP, source, workdir, task=Task.DETECT, class_names=[])

    by_path = {sample.source_path: sample for sample in result.samples}
    assert by_path["cars/train/images/a.png"].labels.boxes[0].class_id == 0
    assert by_path["cars/valid/images/b.png"].split is Split.VAL
    test_sample = by_path["cars/test/images/c.png"]
    assert test_sample.split is Split.VAL
    assert test_sample.metadata.model_extra == {"source_split": "test"}


def test_class_index_outside_the_class_list_is_reported_with_file_and_line(
    make_zip: ZipBuilder, workdir: Path, png: bytes
) -> None:
    source = make_zip(
        {
            "data.yaml": TRAIN_ONLY,
            "images/train/a.png": png,
            "labels/train/a.txt": "0 0.5 0.5 0.2 0.2\n\n2 0.5 0.5 0.2 0.2\n",
        }
    )
    failure = _failure(source, workdir)
    assert [(p.file, p.line) for p in failure.problems] == [("labels/train/a.txt", 3)]
    assert "class 2 is not in the class list (2 classes: 0=car, 1=bus)" in failure.problems[0].message
    assert list(workdir.iterdir()) == []


def test_every_bad_label_line_is_reported(make_zip: ZipBuilder, workdir: Path, png: bytes) -> None:
    source = make_zip(
        {
            "data.yaml": TRAIN_ONLY,
            "images/train/a.png": png,
            "labels/train/a.txt": "0 0.5 0.5 0.2\n1 0.5 1.5 0.2 0.2\nx 0.5 0.5 0.2 0.2\n0 0.5 nan 0.1 0.1\n",
        }
    )
    failure = _failure(source, workdir)
    assert [p.line for p in failure.problems] == [1, 2, 3, 4]
    assert "needs 5 values" in failure.problems[0].message
    assert "normalised to 0..1, found 1.5" in failure.problems[1].message


def test_label_file_without_an_image_is_a_problem(make_zip: ZipBuilder, workdir: Path, png: bytes) -> None:
    source = make_zip(
        {
            "data.yaml": TRAIN_ONLY,
            "images/train/a.png": png,
            "labels/train/a.txt": "0 0.5 0.5 0.2 0.2\n",
            "labels/train/ghost.txt": "0 0.5 0.5 0.2 0.2\n",
        }
    )
    failure = _failure(source, workdir)
    assert failure.problems[0].file == "labels/train/ghost.txt"
    assert "label file without an image" in failure.problems[0].message


def test_file_that_is_not_an_image_is_refused_where_an_image_is_expected(
    make_zip: ZipBuilder, workdir: Path, png: bytes
) -> None:
    source = make_zip({"data.yaml": TRAIN_ONLY, "images/train/a.png": png, "images/train/b.jpg": "not a picture"})
    failure = _failure(source, workdir)
    assert failure.problems[0].file == "images/train/b.jpg"
    assert failure.problems[0].message.startswith("file images/train/b.jpg is not an image (")


def test_missing_data_yaml_is_a_problem(make_zip: ZipBuilder, workdir: Path, png: bytes) -> None:
    failure = _failure(make_zip({"images/train/a.png": png}), workdir)
    assert "no data.yaml" in failure.problems[0].message


def test_split_path_missing_from_the_archive_is_reported_at_its_yaml_line(
    make_zip: ZipBuilder, workdir: Path, png: bytes
) -> None:
    source = make_zip({"data.yaml": DATA_YAML, "images/train/a.png": png})
    failure = _failure(source, workdir)
    assert [(p.file, p.line) for p in failure.problems] == [("data.yaml", 3)]
    assert "val path 'images/val' is not in the upload" in failure.problems[0].message


def test_upload_may_append_classes_to_the_datasets_list(make_zip: ZipBuilder, workdir: Path, png: bytes) -> None:
    source = make_zip({"data.yaml": "names: [car, bus, truck]\ntrain: images/train\n", "images/train/a.png": png})
    result = run_import(UploadKind.YOLO_ZIP, source, workdir, task=Task.DETECT, class_names=["car", "bus"])
    assert result.class_names == ["car", "bus", "truck"]


def test_upload_using_only_the_first_classes_keeps_the_datasets_list(
    make_zip: ZipBuilder, workdir: Path, png: bytes
) -> None:
    source = make_zip({"data.yaml": "names: [car]\ntrain: images/train\n", "images/train/a.png": png})
    result = run_import(UploadKind.YOLO_ZIP, source, workdir, task=Task.DETECT, class_names=["car", "bus"])
    assert result.class_names == ["car", "bus"]


def test_class_list_in_another_order_than_the_datasets_is_a_problem(
    make_zip: ZipBuilder, workdir: Path, png: bytes
) -> None:
    source = make_zip({"data.yaml": TRAIN_ONLY, "images/train/a.png": png})
    failure = _failure(source, workdir, class_names=["bus", "car"])
    assert [(p.file, p.line) for p in failure.problems] == [("data.yaml", 1)]
    assert "class 0 is 'car' in the upload but 'bus' in the dataset" in failure.problems[0].message


def test_bad_yaml_is_reported_with_its_line(make_zip: ZipBuilder, workdir: Path, png: bytes) -> None:
    source = make_zip({"data.yaml": "names: [car\ntrain: images/train\n", "images/train/a.png": png})
    failure = _failure(source, workdir)
    assert failure.problems[0].file == "data.yaml"
    assert failure.problems[0].line is not None
    assert "not valid YAML" in failure.problems[0].message
