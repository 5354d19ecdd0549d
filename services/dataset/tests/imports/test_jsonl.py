"""Frame-rating annotations: JSONL alone (ratings for stored frames) or zipped with the frames it rates."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from modelyard.contracts.api.datasets import Task
from modelyard.contracts.api.samples import SampleKind
from modelyard.dataset.imports import ImportFailed, RatingUpdate, UploadKind, run_import

if TYPE_CHECKING:
    from .conftest import ZipBuilder


def _jsonl(*lines: object) -> str:
    return "".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines)


def _failure(source: Path, workdir: Path) -> ImportFailed:
    with pytest.raises(ImportFailed) as caught:
        run_import(UploadKind.ANNOTATIONS_JSONL, source, workdir, task=Task.REGRESS, class_names=[])
    return caught.value


def test_zip_frames_become_rated_samples_and_other_lines_rate_stored_frames(
    make_zip: ZipBuilder, workdir: Path, jpeg: bytes
) -> None:
    source = make_zip(
        {
            "export/annotations.jsonl": _jsonl(
                {
                    "framePath": "frames/0001.jpg",
                    "rating": 0.9,
                    "source_camera": "cam-2",
                    "captured_at": "2025-11-03T12:00:00Z",
                    "scene": "intro",
                },
                {"frame_path": "C:\\shots\\frames\\0002.jpg", "rating": 0.5},
                {"frame_path": "older/0100.jpg", "rating": 0.25, "capturedAt": "2025-11-01T08:00:00"},
            ),
            "export/frames/0001.jpg": jpeg,
            "export/frames/0002.jpg": jpeg,
            "export/frames/0003.jpg": jpeg,
        }
    )
    result = run_import(UploadKind.ANNOTATIONS_JSONL, source, workdir, task=Task.REGRESS, class_names=[])

    by_path = {s.source_path: s for s in result.samples}
    first = by_path["export/frames/0001.jpg"]
    assert (first.kind, first.media_type, first.rating, first.split) == (SampleKind.IMAGE, "image/jpeg", 0.9, None)
    assert first.labels.empty
    assert first.metadata.source_camera == "cam-2"
    assert first.metadata.captured_at == datetime(2025, 11, 3, 12, tzinfo=UTC)
    assert first.metadata.model_extra == {"scene": "intro", "frame_path": "frames/0001.jpg"}
    assert by_path["export/frames/0002.jpg"].rating == 0.5
    assert by_path["export/frames/0003.jpg"].rating is None
    assert result.rating_updates == [
        RatingUpdate(frame_path="older/0100.jpg", rating=0.25, metadata={"captured_at": "2025-11-01T08:00:00Z"})
    ]


def test_plain_jsonl_rates_frames_already_in_the_dataset(tmp_path: Path, workdir: Path) -> None:
    source = tmp_path / "annotations.jsonl"
    source.write_text(_jsonl({"framePath": "frame001.jpg", "rating": 0.9}, {"framePath": "frame002.jpg", "rating": 0}))
    result = run_import(UploadKind.ANNOTATIONS_JSONL, source, workdir, task=Task.REGRESS, class_names=[])
    assert result.samples == []
    assert [(u.frame_path, u.rating) for u in result.rating_updates] == [("frame001.jpg", 0.9), ("frame002.jpg", 0.0)]


def test_rating_outside_zero_to_one_is_reported_with_its_line(tmp_path: Path, workdir: Path) -> None:
    source = tmp_path / "annotations.jsonl"
    source.write_text(_jsonl({"framePath": "a.jpg", "rating": 0.9}, {"framePath": "b.jpg", "rating": 1.5}))
    failure = _failure(source, workdir)
    assert [(p.file, p.line, p.message) for p in failure.problems] == [
        ("annotations.jsonl", 2, "rating must be between 0.0 and 1.0, got 1.5")
    ]


def test_bad_json_and_missing_fields_are_reported_per_line(tmp_path: Path, workdir: Path) -> None:
    source = tmp_path / "annotations.jsonl"
    source.write_text(_jsonl('{"framePath": "a.jpg", "rating": 0.9', {"rating": 0.3}, {"framePath": "c.jpg"}, "[1]"))
    failure = _failure(source, workdir)
    assert [p.line for p in failure.problems] == [1, 2, 3, 4]
    assert failure.problems[0].message.startswith("not valid JSON")
    assert failure.problems[1].message == "missing field 'frame_path'"
    assert failure.problems[2].message == "missing field 'rating'"


def test_frame_rated_twice_is_a_problem(tmp_path: Path, workdir: Path) -> None:
    source = tmp_path / "annotations.jsonl"
    source.write_text(_jsonl({"framePath": "a.jpg", "rating": 0.9}, {"frame_path": "./a.jpg", "rating": 0.2}))
    failure = _failure(source, workdir)
    assert [(p.line, p.message) for p in failure.problems] == [(2, "frame './a.jpg' is rated twice (first on line 1)")]


def test_empty_annotations_file_is_a_problem(tmp_path: Path, workdir: Path) -> None:
    source = tmp_path / "annotations.jsonl"
    source.write_text("\n\n")
    assert _failure(source, workdir).problems[0].message == "the annotations file is empty"


def test_rated_frame_that_is_not_an_image_is_refused(make_zip: ZipBuilder, workdir: Path) -> None:
    source = make_zip({"a.jsonl": _jsonl({"framePath": "f.jpg", "rating": 0.4}), "f.jpg": b"GIF89a...."})
    failure = _failure(source, workdir)
    assert failure.problems[0].file == "f.jpg"
    assert "is not an image" in failure.problems[0].message


def test_zip_must_hold_exactly_one_jsonl(make_zip: ZipBuilder, workdir: Path, jpeg: bytes) -> None:
    source = make_zip({"a.jsonl": "", "b.jsonl": "", "f.jpg": jpeg})
    assert "several .jsonl files" in _failure(source, workdir).problems[0].message
