"""Importing an Ultralytics classification dataset (kind yolo_zip, task classify).

Layout: a folder per class under train/ and val/ (valid/ is read as val; test/ as val, marked with metadata
source_split="test"), at the root of the archive or in its one top folder; data.yaml is optional. The class list
is data.yaml's names when given (merged with the dataset's as in `classes`), else the dataset's own list, else the
class folders sorted by name (as Ultralytics numbers them). A class folder outside that list is a problem.
"""

from __future__ import annotations

from dataclasses import dataclass

from modelyard.contracts.api.samples import Labels, Split
from modelyard.dataset.imports.classes import describe_classes, merge_class_names
from modelyard.dataset.imports.data_yaml import DataYaml, find_data_yaml, read_data_yaml
from modelyard.dataset.imports.image_samples import image_sample
from modelyard.dataset.imports.images import IMAGE_SUFFIXES, UNSUPPORTED_IMAGE_SUFFIXES
from modelyard.dataset.imports.problems import ProblemLog
from modelyard.dataset.imports.results import ImportedSample, ImportResult
from modelyard.dataset.imports.tree import UploadTree, join, suffix_of
from modelyard.dataset.imports.yolo_splits import resolve

SPLIT_FOLDERS = {"train": ("train",), "val": ("val", "valid"), "test": ("test",)}
SPLITS = {"train": Split.TRAIN, "val": Split.VAL, "test": Split.VAL}


@dataclass(frozen=True)
class ClassImage:
    name: str
    key: str  # "train", "val" or "test"
    folder: str  # the class folder's name
    path: str  # the class folder's path in the upload


def _dataset_folder(tree: UploadTree) -> str:
    tops = tree.top_folders()
    for folder in ["", *tops[:1]] if len(tops) == 1 else [""]:
        if any(tree.has_folder(join(folder, name) or "") for names in SPLIT_FOLDERS.values() for name in names):
            return folder
    return ""


def _split_folders(tree: UploadTree, data: DataYaml | None, log: ProblemLog) -> dict[str, list[str]]:
    if data is not None and data.splits:
        found: dict[str, list[str]] = {}
        for key, paths in data.splits.items():
            for written in paths:
                folder = resolve(tree, data.folder, written)
                if folder is None or not tree.has_folder(folder):
                    log.add(data.name, data.lines.get(key), f"{key} folder {written!r} is not in the upload")
                else:
                    found.setdefault(key, []).append(folder)
        return found
    root = data.folder if data is not None else _dataset_folder(tree)
    folders: dict[str, list[str]] = {}
    for key, names in SPLIT_FOLDERS.items():
        for name in names:
            folder = join(root, name)
            if folder is not None and tree.has_folder(folder):
                folders.setdefault(key, []).append(folder)
    return folders


def _images(tree: UploadTree, folders: dict[str, list[str]], log: ProblemLog) -> list[ClassImage]:
    images: list[ClassImage] = []
    for key, split_folders in folders.items():
        for folder in split_folders:
            for name in tree.under(folder):
                suffix = suffix_of(name)
                if suffix in UNSUPPORTED_IMAGE_SUFFIXES:
                    log.add(name, None, f"file {name} is not an image we train on ({suffix} files are not supported)")
                if suffix not in IMAGE_SUFFIXES:
                    continue
                inside = (name[len(folder) + 1 :] if folder else name).split("/")
                if len(inside) < 2:
                    log.add(name, None, "image is not in a class folder; put it in a folder named for its class")
                    continue
                path = f"{folder}/{inside[0]}" if folder else inside[0]
                images.append(ClassImage(name=name, key=key, folder=inside[0], path=path))
    return images


def _classes(data: DataYaml | None, class_names: list[str], images: list[ClassImage], log: ProblemLog) -> list[str]:
    if data is not None and data.names is not None:
        return merge_class_names(class_names, data.names, data.name, data.names_line, log)
    if class_names:
        return list(class_names)
    return sorted({image.folder for image in images})


def import_classify(tree: UploadTree, upload: str, class_names: list[str]) -> ImportResult:
    log = ProblemLog()
    yaml_name = find_data_yaml(tree, log, upload)
    data = read_data_yaml(tree, yaml_name, log) if yaml_name is not None else None
    log.raise_if_any()
    folders = _split_folders(tree, data, log)
    if not folders and not log:
        log.add(upload, None, "no train/ or val/ folder with a folder per class at the root or in one top folder")
        raise log.failed()
    images = _images(tree, folders, log)
    classes = _classes(data, class_names, images, log)
    index = {name: position for position, name in enumerate(classes)}
    reported: set[str] = set()
    samples: list[ImportedSample] = []
    seen: set[str] = set()
    for image in images:
        if image.folder not in index:
            if image.path not in reported:
                reported.add(image.path)
                known = describe_classes(classes)
                log.add(image.path, None, f"class folder {image.folder!r} is not in the class list ({known})")
            continue
        if image.name in seen:
            continue
        seen.add(image.name)
        extra = {"source_split": image.key} if image.key == "test" else {}
        labels = Labels(class_id=index[image.folder])
        sample = image_sample(tree, image.name, log, labels=labels, split=SPLITS[image.key], metadata=extra)
        if sample is not None:
            samples.append(sample)
    if not samples and not log:
        log.add(upload, None, "the archive holds no images in its class folders")
    log.raise_if_any()
    return ImportResult(samples=samples, rating_updates=[], class_names=classes)
