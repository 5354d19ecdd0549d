"""Importing frame-rating annotations (kind annotations_jsonl): a .jsonl file, or a zip of one .jsonl and frames.

A rated frame found in the zip becomes an image sample with that rating (labels empty); a rated frame that is not in
the upload becomes a RatingUpdate for a frame already in the dataset (the caller checks it exists). Images in the zip
that no line rates are imported too, unrated, so that nothing uploaded is silently dropped.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from modelyard.contracts.api.datasets import Task
from modelyard.contracts.api.samples import SampleMetadata
from modelyard.dataset.imports.annotations import Annotation, read_annotations
from modelyard.dataset.imports.archive import extract_zip, is_zip
from modelyard.dataset.imports.frames import FrameIndex
from modelyard.dataset.imports.image_samples import image_sample
from modelyard.dataset.imports.images import IMAGE_SUFFIXES
from modelyard.dataset.imports.limits import ImportLimits
from modelyard.dataset.imports.plain_upload import check_plain_upload
from modelyard.dataset.imports.problems import ImportFailed, ImportProblem, ProblemLog
from modelyard.dataset.imports.results import ImportedSample, ImportResult, RatingUpdate
from modelyard.dataset.imports.tree import UploadTree, folder_of, suffix_of


def _update(annotation: Annotation) -> RatingUpdate:
    metadata = SampleMetadata.model_validate(annotation.metadata).model_dump(mode="json", exclude_none=True)
    return RatingUpdate(frame_path=annotation.frame_path, rating=annotation.rating, metadata=metadata)


def _annotations_file(tree: UploadTree, upload: str) -> str:
    found = [name for name in tree.files if suffix_of(name) == ".jsonl"]
    if len(found) != 1:
        message = (
            "the archive holds no .jsonl annotations file"
            if not found
            else f"the archive holds several .jsonl files ({', '.join(found)}); it must hold exactly one"
        )
        raise ImportFailed([ImportProblem(upload, None, message)])
    return found[0]


def _from_archive(tree: UploadTree, name: str, annotations: list[Annotation], log: ProblemLog) -> ImportResult:
    frames = FrameIndex((other for other in tree.files if other != name), folder_of(name))
    samples: list[ImportedSample] = []
    updates: list[RatingUpdate] = []
    rated: dict[str, int] = {}
    for annotation in annotations:
        matches = frames.find(annotation.frame_path)
        if len(matches) > 1:
            log.add(
                name, annotation.line, f"frame {annotation.frame_path!r} matches several files: {', '.join(matches)}"
            )
            continue
        if not matches:
            updates.append(_update(annotation))
            continue
        frame = matches[0]
        if frame in rated:
            log.add(name, annotation.line, f"file {frame} is already rated on line {rated[frame]}")
            continue
        rated[frame] = annotation.line
        metadata: dict[str, Any] = dict(annotation.metadata)
        if annotation.frame_path != frame:
            metadata["frame_path"] = annotation.frame_path
        sample = image_sample(tree, frame, log, rating=annotation.rating, metadata=metadata)
        if sample is not None:
            samples.append(sample)
    for image in tree.files:
        if image not in rated and suffix_of(image) in IMAGE_SUFFIXES:
            sample = image_sample(tree, image, log)
            if sample is not None:
                samples.append(sample)
    return ImportResult(samples=samples, rating_updates=updates, class_names=[])


def import_annotations_jsonl(
    source: Path, workdir: Path, *, upload: str, task: Task, class_names: list[str], limits: ImportLimits
) -> ImportResult:
    log = ProblemLog()
    if is_zip(source):
        tree = extract_zip(source, workdir, limits, upload)
        name = _annotations_file(tree, upload)
        result = _from_archive(tree, name, read_annotations(tree.path(name), name, log), log)
    else:
        check_plain_upload(source, limits, upload)
        annotations = read_annotations(source, upload, log)
        result = ImportResult(samples=[], rating_updates=[_update(a) for a in annotations], class_names=[])
    log.raise_if_any()
    return ImportResult(samples=result.samples, rating_updates=result.rating_updates, class_names=list(class_names))
