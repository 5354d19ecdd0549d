"""Whether labels fit a dataset (its task and class list), and how far annotators agree."""

from __future__ import annotations

from itertools import combinations

from modelyard.contracts.api.datasets import Task
from modelyard.contracts.api.samples import Labels
from modelyard.dataset.errors import LabelsInvalid

_ALLOWED_PARTS: dict[Task, set[str]] = {
    Task.DETECT: {"boxes"},
    Task.SEGMENT: {"polygons", "boxes"},
    Task.CLASSIFY: {"class_id"},
    Task.AUDIO_CLASSIFY: {"class_id"},
    Task.REGRESS: {"value"},
    Task.FORECAST: {"value"},
}


def check(labels: Labels, task: Task, class_names: list[str]) -> None:
    used = {part for part in ("boxes", "polygons", "class_id", "value") if getattr(labels, part) not in (None, [])}
    wrong = used - _ALLOWED_PARTS[task]
    if wrong:
        raise LabelsInvalid(f"a {task.value} dataset takes no {', '.join(sorted(wrong))} labels")
    outside = sorted(i for i in labels.class_ids() if i >= len(class_names))
    if outside:
        raise LabelsInvalid(f"class index {outside[0]} is outside the class list (0..{len(class_names) - 1})")


def agreement(annotations: list[tuple[Labels, float | None]]) -> float | None:
    """Mean pairwise agreement of the annotators' current labels, 0..1; None with fewer than two annotators.

    Two annotations agree by the Jaccard overlap of the classes they name (for boxes, polygons or a class), and
    by 1 - |difference| for ratings; a pair scores the mean of the parts both have.
    """
    if len(annotations) < 2:
        return None
    scores = []
    for (a, ra), (b, rb) in combinations(annotations, 2):
        parts = []
        ca, cb = a.class_ids(), b.class_ids()
        if ca or cb:
            parts.append(len(ca & cb) / len(ca | cb))
        if ra is not None and rb is not None:
            parts.append(1.0 - abs(ra - rb))
        if a.value is not None and b.value is not None:
            parts.append(1.0 if a.value == b.value else 0.0)
        scores.append(sum(parts) / len(parts) if parts else 1.0)
    return round(sum(scores) / len(scores), 4)
