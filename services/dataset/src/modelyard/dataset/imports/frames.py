"""Finding the file of an upload that an annotation's frame_path means.

Tried in order: the path relative to the annotations file's folder, relative to the archive root, then by trailing
folders, where one path (from the archive root or from the annotations file's folder) must end the other: a path
from the annotator's machine, "C:\\shots\\day1\\0001.jpg", finds "day1/0001.jpg", and "0001.jpg" finds the one
"frames/0001.jpg", but "day1/0001.jpg" never finds "day2/0001.jpg". Several files matching is a problem, not a guess.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable

from modelyard.dataset.imports.tree import join, normalise


def _suffix_related(one: list[str], other: list[str]) -> bool:
    shorter, longer = sorted((one, other), key=len)
    return longer[len(longer) - len(shorter) :] == shorter


class FrameIndex:
    def __init__(self, names: Iterable[str], base: str) -> None:
        self._names = set(names)
        self._base = base
        self._by_filename: dict[str, list[str]] = {}
        for name in sorted(self._names):
            self._by_filename.setdefault(posixpath.basename(name), []).append(name)

    def find(self, frame_path: str) -> list[str]:
        """The upload's files this frame path can mean: one, none, or (ambiguously) several."""
        text = frame_path.strip().replace("\\", "/")
        for candidate in (join(self._base, text), normalise(text)):
            if candidate is not None and candidate in self._names:
                return [candidate]
        parts = [part for part in text.split("/") if part not in ("", ".", "..") and not part.endswith(":")]
        if not parts:
            return []
        return [name for name in self._by_filename.get(parts[-1], []) if self._related(name, parts)]

    def _related(self, name: str, parts: list[str]) -> bool:
        if _suffix_related(name.split("/"), parts):
            return True
        prefix = self._base + "/"
        return bool(self._base) and name.startswith(prefix) and _suffix_related(name[len(prefix) :].split("/"), parts)
