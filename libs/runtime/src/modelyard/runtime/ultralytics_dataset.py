"""A dataset version (its manifest) written out as an Ultralytics dataset directory: what the trainer consumes and
what the zip export holds.

- detect / segment: `images/{train,val}/<name>`, `labels/{train,val}/<stem>.txt` (YOLO lines), `data.yaml`;
- classify / audio_classify: `{train,val}/<class name>/<name>`;
- regress / forecast: `{train,val}/<name>` and `{train,val}/labels.csv` (name, value, rating).
Blobs are fetched from the object store by their content address, several at a time.
"""

from __future__ import annotations

import asyncio
import csv
from pathlib import Path

import yaml

from modelyard.contracts.api.datasets import Task
from modelyard.contracts.api.samples import Labels
from modelyard.contracts.api.versions import Manifest, ManifestSample
from modelyard.contracts.storage import blob_key
from modelyard.runtime.storage import ObjectStore

YOLO_TASKS = (Task.DETECT, Task.SEGMENT)
CLASS_TASKS = (Task.CLASSIFY, Task.AUDIO_CLASSIFY)


def yolo_lines(labels: Labels, task: Task) -> list[str]:
    if task is Task.SEGMENT and labels.polygons:
        return [f"{p.class_id} " + " ".join(f"{x:.6f} {y:.6f}" for x, y in p.points) for p in labels.polygons]
    return [f"{b.class_id} {b.x:.6f} {b.y:.6f} {b.w:.6f} {b.h:.6f}" for b in labels.boxes]


def _target(manifest: Manifest, sample: ManifestSample, root: Path) -> Path:
    split = sample.split.value
    if manifest.task in YOLO_TASKS:
        return root / "images" / split / sample.name
    if manifest.task in CLASS_TASKS:
        class_id = sample.labels.class_id
        folder = manifest.class_names[class_id] if class_id is not None else "_unlabeled"
        return root / split / folder / sample.name
    return root / split / sample.name


def _write_layout(manifest: Manifest, root: Path) -> None:
    """Folders, label files and data.yaml: everything but the blobs."""
    for sample in manifest.samples:
        _target(manifest, sample, root).parent.mkdir(parents=True, exist_ok=True)
        if manifest.task in YOLO_TASKS:
            label = root / "labels" / sample.split.value / (Path(sample.name).stem + ".txt")
            label.parent.mkdir(parents=True, exist_ok=True)
            label.write_text("\n".join(yolo_lines(sample.labels, manifest.task)) + "\n")
    if manifest.task not in YOLO_TASKS + CLASS_TASKS:
        for split in ("train", "val"):
            (root / split).mkdir(parents=True, exist_ok=True)
            with (root / split / "labels.csv").open("w", newline="") as fh:
                writer = csv.writer(fh)
                writer.writerow(["name", "value", "rating"])
                for s in manifest.samples:
                    if s.split.value == split:
                        writer.writerow([s.name, s.labels.value, s.rating])
    data = {
        "path": str(root.resolve()),
        "train": "images/train" if manifest.task in YOLO_TASKS else "train",
        "val": "images/val" if manifest.task in YOLO_TASKS else "val",
        "names": dict(enumerate(manifest.class_names)),
    }
    (root / "data.yaml").write_text(yaml.safe_dump(data, sort_keys=False))


async def write_ultralytics_dataset(manifest: Manifest, store: ObjectStore, root: Path, *, parallel: int = 8) -> Path:
    """Write the directory; returns the path of its data.yaml."""
    await asyncio.to_thread(_write_layout, manifest, root)
    gate = asyncio.Semaphore(parallel)

    async def fetch(sample: ManifestSample) -> None:
        async with gate:
            stored = await store.download(blob_key(sample.sha256), _target(manifest, sample, root))
        if stored.sha256 != sample.sha256:
            raise ValueError(f"blob {sample.sha256} is corrupt in the object store (got {stored.sha256})")

    await asyncio.gather(*(fetch(s) for s in manifest.samples))
    return root / "data.yaml"
