"""Where a YOLO upload keeps each split's images and labels.

A split path in data.yaml is read the way Ultralytics reads it, relative to the yaml's folder (or its `path`), with
the usual variants tolerated: Roboflow's "../train/images" (the "../" is dropped), a path from the exporting machine
("/content/datasets/cars/train/images": its trailing folders are looked up in the upload), a list of folders, or a
.txt file listing images. Labels sit where Ultralytics looks ("images" swapped for "labels" in the image's path),
or next to the image as a fallback.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field

from modelyard.dataset.imports.images import IMAGE_SUFFIXES, UNSUPPORTED_IMAGE_SUFFIXES
from modelyard.dataset.imports.problems import ProblemLog
from modelyard.dataset.imports.tree import UploadTree, join, normalise, suffix_of

NOT_LABELS = frozenset({"classes.txt", "notes.txt"})


@dataclass
class SplitImages:
    key: str  # "train", "val" or "test"
    images: list[str] = field(default_factory=list)
    label_folders: list[str] = field(default_factory=list)  # folders whose .txt files must belong to an image
    list_files: list[str] = field(default_factory=list)  # .txt files listing images, which are not labels


def _is_absolute(text: str) -> bool:
    return text.startswith("/") or (len(text) > 1 and text[1] == ":")


def resolve(tree: UploadTree, folder: str, written: str) -> str | None:
    """The folder or file of the upload that a path written in data.yaml (or a list file) means, if any."""
    text = written.strip().replace("\\", "/")
    candidates: list[str | None] = []
    if not _is_absolute(text):
        candidates.append(join(folder, text))
        if text.startswith("../"):
            candidates.append(join(folder, text[3:]))
        candidates.append(normalise(text))
    parts = [part for part in text.split("/") if part not in ("", ".", "..") and not part.endswith(":")]
    candidates.extend(join(folder, "/".join(parts[start:])) for start in range(max(len(parts) - 1, 0)))
    for candidate in candidates:
        if candidate is not None and (tree.has_folder(candidate) or tree.has_file(candidate)):
            return candidate
    return None


def label_candidates(image: str) -> list[str]:
    """Ultralytics' label path for an image ("images" -> "labels", suffix -> .txt), then the .txt beside it."""
    folders, filename = posixpath.split(image)
    stem = posixpath.splitext(filename)[0] + ".txt"
    parts = folders.split("/") if folders else []
    beside = posixpath.join(folders, stem)
    if "images" not in parts:
        return [beside]
    index = len(parts) - 1 - parts[::-1].index("images")
    swapped = "/".join([*parts[:index], "labels", *parts[index + 1 :], stem])
    return [swapped, beside]


def _labels_folder(images_folder: str) -> str | None:
    parts = images_folder.split("/") if images_folder else []
    if "images" not in parts:
        return None
    index = len(parts) - 1 - parts[::-1].index("images")
    return "/".join([*parts[:index], "labels", *parts[index + 1 :]])


def _from_folder(tree: UploadTree, folder: str, split: SplitImages, log: ProblemLog) -> None:
    for name in tree.under(folder):
        suffix = suffix_of(name)
        if suffix in IMAGE_SUFFIXES:
            split.images.append(name)
        elif suffix in UNSUPPORTED_IMAGE_SUFFIXES:
            log.add(name, None, f"file {name} is not an image we train on ({suffix} files are not supported)")
    split.label_folders.append(folder)
    labels = _labels_folder(folder)
    if labels is not None:
        split.label_folders.append(labels)


def _from_list(tree: UploadTree, list_file: str, split: SplitImages, log: ProblemLog) -> None:
    try:
        lines = tree.path(list_file).read_text(encoding="utf-8-sig").splitlines()
    except UnicodeDecodeError:
        log.add(list_file, None, "the image list is not UTF-8 text")
        return
    folder = posixpath.dirname(list_file)
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        found = resolve(tree, folder, line)
        if found is None or not tree.has_file(found):
            log.add(list_file, number, f"image {line.strip()!r} is not in the upload")
        else:
            split.images.append(found)


def split_images(
    tree: UploadTree, folder: str, key: str, paths: list[str], file: str, line: int | None, log: ProblemLog
) -> SplitImages:
    """The images of one split from the paths data.yaml gives for it."""
    split = SplitImages(key=key)
    for written in paths:
        found = resolve(tree, folder, written)
        if found is None:
            log.add(file, line, f"{key} path {written!r} is not in the upload")
        elif tree.has_file(found) and suffix_of(found) == ".txt":
            split.list_files.append(found)
            _from_list(tree, found, split, log)
        elif tree.has_file(found):
            log.add(file, line, f"{key} path {written!r} is a file, not a folder of images or a .txt list of images")
        else:
            _from_folder(tree, found, split, log)
    return split


def orphan_labels(tree: UploadTree, splits: list[SplitImages]) -> list[str]:
    """Label files in the splits' label folders that belong to no image of any split."""
    expected = {label for split in splits for image in split.images for label in label_candidates(image)}
    list_files = {name for split in splits for name in split.list_files}
    orphans: set[str] = set()
    for split in splits:
        for folder in split.label_folders:
            for name in tree.under(folder):
                if suffix_of(name) != ".txt" or name in expected or name in list_files:
                    continue
                if posixpath.basename(name) in NOT_LABELS or posixpath.basename(name).startswith("README"):
                    continue
                orphans.add(name)
    return sorted(orphans)
