"""How an upload's class list meets the dataset's.

The upload must list the dataset's classes in the same order; either list may be longer. A longer upload list
appends new classes to the dataset (existing indices keep their meaning); a shorter one simply does not use the
dataset's last classes. Anything else would silently renumber labels already stored, so it is a problem.
"""

from __future__ import annotations

from collections.abc import Sequence

from modelyard.dataset.imports.problems import ProblemLog


def merge_class_names(
    existing: Sequence[str], uploaded: Sequence[str], file: str, line: int | None, log: ProblemLog
) -> list[str]:
    """The dataset's class list after this upload; on disagreement, a problem and the upload's own list."""
    if not existing:
        return list(uploaded)
    for index, (ours, theirs) in enumerate(zip(existing, uploaded, strict=False)):
        if ours != theirs:
            log.add(
                file,
                line,
                f"class {index} is {theirs!r} in the upload but {ours!r} in the dataset; the upload must list the"
                " dataset's classes in the same order (new classes may only be appended)",
            )
            return list(uploaded)
    return list(uploaded) if len(uploaded) > len(existing) else list(existing)


def describe_classes(names: Sequence[str], shown: int = 10) -> str:
    listed = ", ".join(f"{index}={name}" for index, name in enumerate(names[:shown]))
    more = ", ..." if len(names) > shown else ""
    return f"{len(names)} class{'es' if len(names) != 1 else ''}: {listed}{more}" if names else "no classes"
