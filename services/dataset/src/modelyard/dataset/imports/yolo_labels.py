"""Parsing one YOLO label file: detect lines "class cx cy w h", segment lines "class x1 y1 x2 y2 x3 y3 ...".

Every value must be a finite number, every coordinate normalised to 0..1, every class index in the class list.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from modelyard.contracts.api.datasets import Task
from modelyard.contracts.api.samples import Box, Labels, Polygon
from modelyard.dataset.imports.classes import describe_classes
from modelyard.dataset.imports.problems import ProblemLog


def _class_id(token: str) -> int | None:
    try:
        value = float(token)
    except ValueError:
        return None
    if not math.isfinite(value) or value != int(value):
        return None
    return int(value)


def _numbers(tokens: Sequence[str]) -> list[float] | str:
    numbers: list[float] = []
    for token in tokens:
        try:
            value = float(token)
        except ValueError:
            return f"{token!r} is not a number"
        if not math.isfinite(value):
            return f"{token!r} is not a finite number"
        numbers.append(value)
    if any(not 0.0 <= value <= 1.0 for value in numbers):
        outside = next(value for value in numbers if not 0.0 <= value <= 1.0)
        return f"coordinates must be normalised to 0..1, found {outside:g}"
    return numbers


def _shape_problem(task: Task, count: int) -> str | None:
    if task is Task.DETECT and count != 4:
        return f"a detect label needs 5 values (class cx cy w h), found {count + 1}"
    if task is Task.SEGMENT and (count < 6 or count % 2):
        return (
            "a segment label needs a class and at least 3 points (an even number of coordinates),"
            f" found {count} coordinate{'s' if count != 1 else ''}"
        )
    return None


def parse_labels(text: str, file: str, task: Task, classes: Sequence[str] | None, log: ProblemLog) -> Labels:
    """Labels of one image; each bad line is a problem at its line. `classes` None skips the class-index check."""
    boxes: list[Box] = []
    polygons: list[Polygon] = []
    for number, line in enumerate(text.splitlines(), start=1):
        tokens = line.split()
        if not tokens:
            continue
        class_id = _class_id(tokens[0])
        if class_id is None or class_id < 0:
            log.add(file, number, f"class index {tokens[0]!r} is not a whole number >= 0")
            continue
        if classes is not None and class_id >= len(classes):
            log.add(file, number, f"class {class_id} is not in the class list ({describe_classes(classes)})")
            continue
        shape = _shape_problem(task, len(tokens) - 1)
        if shape:
            log.add(file, number, shape)
            continue
        numbers = _numbers(tokens[1:])
        if isinstance(numbers, str):
            log.add(file, number, numbers)
            continue
        if task is Task.DETECT:
            x, y, w, h = numbers
            boxes.append(Box(class_id=class_id, x=x, y=y, w=w, h=h))
        else:
            points = list(zip(numbers[0::2], numbers[1::2], strict=True))
            polygons.append(Polygon(class_id=class_id, points=points))
    return Labels(boxes=boxes, polygons=polygons)
