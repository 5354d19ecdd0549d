"""Ultralytics segment datasets: polygons of at least three normalised points."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from modelyard.contracts.api.datasets import Task
from modelyard.contracts.api.samples import Polygon, Split
from modelyard.dataset.imports import ImportFailed, UploadKind, run_import

if TYPE_CHECKING:
    from .conftest import ZipBuilder

DATA_YAML = "path: .\ntrain: train/images\nval: val/images\nnames:\n  0: road\n  1: lane\n"


def test_segment_dataset_imports_polygons(make_zip: ZipBuilder, workdir: Path, png: bytes) -> None:
    source = make_zip(
        {
            "data.yaml": DATA_YAML,
            "train/images/a.png": png,
            "train/labels/a.txt": "0 0.1 0.1 0.9 0.1 0.5 0.8\n1 0 0 1 0 1 1 0 1\n",
            "val/images/b.png": png,
        }
    )
    result = run_import(UploadKind.YOLO_ZIP, source, workdir, task=Task.SEGMENT, class_names=["road", "lane"])

    assert result.class_names == ["road", "lane"]
    a, b = result.samples
    assert a.labels.polygons == [
        Polygon(class_id=0, points=[(0.1, 0.1), (0.9, 0.1), (0.5, 0.8)]),
        Polygon(class_id=1, points=[(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0)]),
    ]
    assert a.labels.boxes == []
    assert (b.split, b.labels.empty) == (Split.VAL, True)


def test_segment_lines_with_too_few_points_or_odd_coordinates_are_reported(
    make_zip: ZipBuilder, workdir: Path, png: bytes
) -> None:
    source = make_zip(
        {
            "data.yaml": DATA_YAML,
            "train/images/a.png": png,
            "train/labels/a.txt": "0 0.1 0.1 0.9 0.1\n0 0.1 0.1 0.9 0.1 0.5 0.8 0.3\n0 0.1 0.1 0.9 0.1 0.5 0.8\n",
            "val/images/b.png": png,
        }
    )
    with pytest.raises(ImportFailed) as caught:
        run_import(UploadKind.YOLO_ZIP, source, workdir, task=Task.SEGMENT, class_names=[])
    problems = caught.value.problems
    assert [(p.file, p.line) for p in problems] == [("train/labels/a.txt", 1), ("train/labels/a.txt", 2)]
    assert all("at least 3 points" in p.message for p in problems)
