"""Versions: the manifest of a dataset's samples, its deterministic train/val split and its content address."""

from __future__ import annotations

import hashlib
import json
import mimetypes

from modelyard.contracts.api.datasets import Dataset
from modelyard.contracts.api.samples import Sample, SampleStatus, Split
from modelyard.contracts.api.versions import Include, Manifest, ManifestSample, VersionCreate


def included(status: SampleStatus, include: Include) -> bool:
    if include is Include.VERIFIED:
        return status is SampleStatus.VERIFIED
    return status is not SampleStatus.REJECTED


def assign_split(sample: Sample, val_fraction: float, seed: int) -> Split:
    """A split given at import (YOLO train/val folders) is kept; otherwise a hash of seed and content decides,
    so the same sample lands on the same side in every version with the same seed."""
    if sample.split is not None:
        return sample.split
    digest = hashlib.sha256(f"{seed}:{sample.sha256}".encode()).digest()
    return Split.VAL if int.from_bytes(digest[:8], "big") / 2**64 < val_fraction else Split.TRAIN


def _name(sample: Sample) -> str:
    source = sample.metadata.source_path
    extension = (source.rsplit(".", 1)[-1] if source and "." in source else None) or (
        (mimetypes.guess_extension(sample.media_type) or ".bin").lstrip(".")
    )
    return f"{sample.sha256[:16]}.{extension.lower()}"


def build(dataset: Dataset, samples: list[Sample], spec: VersionCreate) -> Manifest:
    chosen = sorted((s for s in samples if included(s.status, spec.include)), key=lambda s: s.sha256)
    return Manifest(
        dataset_id=dataset.id,
        task=dataset.task,
        class_names=dataset.class_names,
        include=spec.include,
        val_fraction=spec.val_fraction,
        seed=spec.seed,
        samples=[
            ManifestSample(
                sha256=s.sha256,
                kind=s.kind,
                media_type=s.media_type,
                size=s.size,
                labels=s.labels,
                rating=s.rating,
                split=assign_split(s, spec.val_fraction, spec.seed),
                status=s.status,
                name=_name(s),
            )
            for s in chosen
        ],
    )


def canonical(manifest: Manifest) -> bytes:
    """The bytes that are hashed and stored: sorted keys, no whitespace, so equal content is equal bytes."""
    return json.dumps(manifest.model_dump(mode="json"), sort_keys=True, separators=(",", ":")).encode()


def sha256(manifest: Manifest) -> str:
    return hashlib.sha256(canonical(manifest)).hexdigest()
