"""Importing an Ultralytics dataset zip (kind yolo_zip) for detect and segment; classify lives in yolo_classify.

Splits: data.yaml's train -> train, val -> val, test -> val (marked with metadata source_split="test"), so that
nothing the user uploaded is dropped and test images are still never trained on. An image listed under several
splits is imported once, under the first of train, val, test.
"""

from __future__ import annotations

from pathlib import Path

from modelyard.contracts.api.datasets import Task
from modelyard.contracts.api.samples import Labels, Split
from modelyard.dataset.imports.archive import extract_zip
from modelyard.dataset.imports.classes import merge_class_names
from modelyard.dataset.imports.data_yaml import DataYaml, find_data_yaml, read_data_yaml
from modelyard.dataset.imports.image_samples import image_sample
from modelyard.dataset.imports.limits import ImportLimits
from modelyard.dataset.imports.problems import ProblemLog
from modelyard.dataset.imports.results import ImportedSample, ImportResult
from modelyard.dataset.imports.tree import UploadTree
from modelyard.dataset.imports.yolo_classify import import_classify
from modelyard.dataset.imports.yolo_labels import parse_labels
from modelyard.dataset.imports.yolo_splits import SplitImages, label_candidates, orphan_labels, split_images

SPLITS = {"train": Split.TRAIN, "val": Split.VAL, "test": Split.VAL}


def _read_text(tree: UploadTree, name: str, log: ProblemLog) -> str | None:
    try:
        return tree.path(name).read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        log.add(name, None, "the label file is not UTF-8 text")
        return None


def _labels(tree: UploadTree, image: str, task: Task, classes: list[str] | None, log: ProblemLog) -> Labels:
    for candidate in label_candidates(image):
        if tree.has_file(candidate):
            text = _read_text(tree, candidate, log)
            return Labels() if text is None else parse_labels(text, candidate, task, classes, log)
    return Labels()


def _splits(tree: UploadTree, data: DataYaml, log: ProblemLog) -> list[SplitImages]:
    if not data.splits:
        log.add(data.name, None, "the dataset file names no train or val images (train: ..., val: ...)")
    return [
        split_images(tree, data.folder, key, paths, data.name, data.lines.get(key), log)
        for key, paths in data.splits.items()
    ]


def _samples(
    tree: UploadTree, splits: list[SplitImages], task: Task, classes: list[str] | None, log: ProblemLog
) -> list[ImportedSample]:
    samples: list[ImportedSample] = []
    seen: set[str] = set()
    for split in splits:
        for image in sorted(split.images):
            if image in seen:
                continue
            seen.add(image)
            labels = _labels(tree, image, task, classes, log)
            extra = {"source_split": split.key} if split.key == "test" else {}
            sample = image_sample(tree, image, log, labels=labels, split=SPLITS[split.key], metadata=extra)
            if sample is not None:
                samples.append(sample)
    return samples


def import_detect_or_segment(tree: UploadTree, upload: str, task: Task, class_names: list[str]) -> ImportResult:
    log = ProblemLog()
    name = find_data_yaml(tree, log, upload)
    if name is None:
        if not log:
            log.add(upload, None, "no data.yaml at the root of the archive or in its one top folder")
        raise log.failed()
    data = read_data_yaml(tree, name, log)
    if data is None:
        raise log.failed()
    merged: list[str] = []
    if data.names is not None:
        merged = merge_class_names(class_names, data.names, data.name, data.names_line, log)
    elif "names" not in data.lines:
        log.add(data.name, None, "the dataset file has no names (the class list)")
    splits = _splits(tree, data, log)
    # Label class indices are checked against the upload's own list, which is what its labels were written for.
    samples = _samples(tree, splits, task, data.names, log)
    for orphan in orphan_labels(tree, splits):
        log.add(orphan, None, "label file without an image (no image of that name where its labels would point)")
    if not samples and not log:
        log.add(upload, None, "the archive holds no images in its train or val folders")
    log.raise_if_any()
    return ImportResult(samples=samples, rating_updates=[], class_names=merged)


def import_yolo_zip(
    source: Path, workdir: Path, *, upload: str, task: Task, class_names: list[str], limits: ImportLimits
) -> ImportResult:
    tree = extract_zip(source, workdir, limits, upload)
    if task is Task.CLASSIFY:
        return import_classify(tree, upload, class_names)
    return import_detect_or_segment(tree, upload, task, class_names)
