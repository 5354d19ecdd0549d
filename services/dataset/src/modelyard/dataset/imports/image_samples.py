"""Turning an image file of an upload into a sample, once Pillow has vouched for it."""

from __future__ import annotations

from typing import Any

from modelyard.contracts.api.samples import Labels, SampleKind, SampleMetadata, Split
from modelyard.dataset.imports.images import NotAnImage, not_an_image_message, probe_image
from modelyard.dataset.imports.problems import ProblemLog
from modelyard.dataset.imports.results import ImportedSample
from modelyard.dataset.imports.tree import UploadTree


def image_sample(
    tree: UploadTree,
    name: str,
    log: ProblemLog,
    *,
    labels: Labels | None = None,
    split: Split | None = None,
    rating: float | None = None,
    metadata: dict[str, Any] | None = None,
) -> ImportedSample | None:
    """The sample for image `name`, or None (and a problem) when the file is not an image we can use."""
    path = tree.path(name)
    try:
        info = probe_image(path)
    except NotAnImage as error:
        log.add(name, None, not_an_image_message(name, str(error)))
        return None
    fields: dict[str, Any] = {**(metadata or {}), "source_path": name, "width": info.width, "height": info.height}
    return ImportedSample(
        file=path,
        source_path=name,
        kind=SampleKind.IMAGE,
        media_type=info.media_type,
        labels=labels or Labels(),
        rating=rating,
        split=split,
        metadata=SampleMetadata.model_validate(fields),
    )
