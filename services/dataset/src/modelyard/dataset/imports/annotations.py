"""Reading frame-rating annotations, one JSON object a line:
{"frame_path": "frames/0001.jpg", "rating": 0.9, "source_camera": "cam-2", "captured_at": "2025-11-03T12:00:00Z"}.

"framePath", "sourceCamera" and "capturedAt" are accepted too. Any other field is kept in the sample's metadata,
except width, height and source_path, which the image (or the stored sample) decides.
"""

from __future__ import annotations

import json
import math
import posixpath
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from modelyard.dataset.imports.problems import ProblemLog
from modelyard.dataset.imports.timestamps import parse_iso

FRAME_KEYS = ("frame_path", "framePath")
RATING_KEY = "rating"
CAMERA_KEYS = ("source_camera", "sourceCamera")
CAPTURED_KEYS = ("captured_at", "capturedAt")
IGNORED_KEYS = frozenset({"width", "height", "source_path"})
KNOWN_KEYS = frozenset({*FRAME_KEYS, RATING_KEY, *CAMERA_KEYS, *CAPTURED_KEYS})


@dataclass(frozen=True)
class Annotation:
    line: int
    frame_path: str
    rating: float
    metadata: dict[str, Any]  # source_camera, captured_at (a datetime) when given, and the line's other fields


def frame_key(frame_path: str) -> str:
    """The form two frame paths are compared in: forward slashes, no "./", no doubled slashes."""
    return posixpath.normpath(frame_path.strip().replace("\\", "/"))


def _first(data: dict[str, Any], keys: tuple[str, ...]) -> tuple[str, Any] | None:
    return next(((key, data[key]) for key in keys if key in data), None)


def _frame_path(data: dict[str, Any], problems: list[str]) -> str | None:
    found = _first(data, FRAME_KEYS)
    if found is None:
        problems.append("missing field 'frame_path'")
        return None
    key, value = found
    if not isinstance(value, str) or not value.strip():
        problems.append(f"{key} must be a non-empty string, got {value!r}")
        return None
    return value.strip()


def _rating(data: dict[str, Any], problems: list[str]) -> float | None:
    if RATING_KEY not in data:
        problems.append("missing field 'rating'")
        return None
    value = data[RATING_KEY]
    if isinstance(value, bool) or not isinstance(value, int | float):
        problems.append(f"rating must be a number between 0.0 and 1.0, got {value!r}")
        return None
    if not (math.isfinite(value) and 0.0 <= value <= 1.0):
        problems.append(f"rating must be between 0.0 and 1.0, got {value}")
        return None
    return float(value)


def _metadata(data: dict[str, Any], problems: list[str]) -> dict[str, Any]:
    metadata = {key: value for key, value in data.items() if key not in KNOWN_KEYS and key not in IGNORED_KEYS}
    camera = _first(data, CAMERA_KEYS)
    if camera is not None and camera[1] is not None:
        if isinstance(camera[1], str):
            metadata["source_camera"] = camera[1]
        else:
            problems.append(f"{camera[0]} must be a string, got {camera[1]!r}")
    captured = _first(data, CAPTURED_KEYS)
    if captured is not None and captured[1] is not None:
        when: datetime | None = parse_iso(captured[1]) if isinstance(captured[1], str) else None
        if when is None:
            problems.append(f"{captured[0]} must be an ISO 8601 timestamp, got {captured[1]!r}")
        else:
            metadata["captured_at"] = when
    return metadata


def _parse_line(text: str, number: int) -> Annotation | list[str]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        return [f"not valid JSON ({error.msg} at column {error.colno})"]
    if not isinstance(data, dict):
        return [f"each line must be a JSON object, found {type(data).__name__}"]
    problems: list[str] = []
    frame_path = _frame_path(data, problems)
    rating = _rating(data, problems)
    metadata = _metadata(data, problems)
    if problems or frame_path is None or rating is None:
        return problems
    return Annotation(line=number, frame_path=frame_path, rating=rating, metadata=metadata)


def read_annotations(path: Path, file: str, log: ProblemLog) -> list[Annotation]:
    """Every valid line; each bad line (bad JSON, missing field, rating outside 0..1, duplicate frame) is a problem."""
    annotations: list[Annotation] = []
    first_line: dict[str, int] = {}
    lines = 0
    with path.open("rb") as stream:
        for number, raw in enumerate(stream, start=1):
            try:
                text = raw.decode("utf-8-sig" if number == 1 else "utf-8").strip()
            except UnicodeDecodeError:
                log.add(file, number, "the line is not UTF-8 text")
                continue
            if not text:
                continue
            lines += 1
            parsed = _parse_line(text, number)
            if isinstance(parsed, list):
                for message in parsed:
                    log.add(file, number, message)
                continue
            key = frame_key(parsed.frame_path)
            if key in first_line:
                log.add(file, number, f"frame {parsed.frame_path!r} is rated twice (first on line {first_line[key]})")
                continue
            first_line[key] = number
            annotations.append(parsed)
    if not lines:
        log.add(file, None, "the annotations file is empty")
    return annotations
