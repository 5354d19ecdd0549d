"""What an import returns: the samples to store, the ratings for samples already stored, the class list."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelyard.contracts.api.samples import Labels, SampleKind, SampleMetadata, Split


@dataclass(frozen=True)
class ImportedSample:
    file: Path  # the file on local disk (extracted under workdir, or the source itself)
    source_path: str  # its path inside the upload, e.g. "images/train/a.jpg"
    kind: SampleKind
    media_type: str
    labels: Labels
    rating: float | None
    split: Split | None
    metadata: SampleMetadata


@dataclass(frozen=True)
class RatingUpdate:
    """A rating for a frame that is not in the upload: it rates a frame already in the dataset (the caller checks)."""

    frame_path: str
    rating: float
    metadata: dict[str, Any]


@dataclass(frozen=True)
class ImportResult:
    samples: list[ImportedSample]
    rating_updates: list[RatingUpdate]
    class_names: list[str]
