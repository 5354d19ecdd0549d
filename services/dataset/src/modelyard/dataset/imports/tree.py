"""The files of an extracted upload, addressed by their path inside the upload ("images/train/a.jpg")."""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Mapping
from pathlib import Path


def normalise(path: str) -> str | None:
    """A relative upload path in canonical form ("a/b.jpg"), or None if it leaves the upload ("../x") or is absolute."""
    text = path.strip().replace("\\", "/")
    if text.startswith("/") or (len(text) > 1 and text[1] == ":"):
        return None
    parts = [part for part in text.split("/") if part not in ("", ".")]
    if ".." in parts:
        joined = posixpath.normpath("/".join(parts))
        if joined == ".." or joined.startswith("../"):
            return None
        return "" if joined == "." else joined
    return "/".join(parts)


def join(folder: str, name: str) -> str | None:
    return normalise(f"{folder}/{name}" if folder else name)


def folder_of(name: str) -> str:
    return posixpath.dirname(name)


def suffix_of(name: str) -> str:
    return posixpath.splitext(name)[1].lower()


class UploadTree:
    """Regular files of an upload by name, and the folders they imply."""

    def __init__(self, root: Path, files: Mapping[str, Path]) -> None:
        self.root = root
        self.files: dict[str, Path] = dict(sorted(files.items()))
        self._folders: set[str] = {""}
        for name in self.files:
            folder = folder_of(name)
            while folder and folder not in self._folders:
                self._folders.add(folder)
                folder = folder_of(folder)

    def has_file(self, name: str) -> bool:
        return name in self.files

    def has_folder(self, name: str) -> bool:
        return name in self._folders

    def under(self, folder: str) -> list[str]:
        """Every file below `folder`, at any depth, sorted."""
        if not folder:
            return list(self.files)
        prefix = folder + "/"
        return [name for name in self.files if name.startswith(prefix)]

    def top_folders(self) -> list[str]:
        return sorted({name.split("/", 1)[0] for name in self.files if "/" in name})

    def root_files(self) -> list[str]:
        return [name for name in self.files if "/" not in name]

    def path(self, name: str) -> Path:
        return self.files[name]

    @classmethod
    def of(cls, root: Path, names: Iterable[str]) -> UploadTree:
        return cls(root, {name: root / name for name in names})
