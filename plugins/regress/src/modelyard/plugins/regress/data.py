"""The training data of a regress job, as the trainer writes a dataset version out (no torch here).

`data.yaml` names the root (`path`) and the split folders (`train`, `val`); each split folder holds its frames and a
`labels.csv` with columns name, value, rating. A frame's target is its rating (0..1, from frame-rating
annotations), else its value; frames with neither are unrated and left out (counted, so the run can say so).
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

import yaml

LABELS_FILE = "labels.csv"
COLUMNS = ("name", "value", "rating")


class DatasetError(ValueError):
    """The dataset directory cannot be trained on; the message says which file and why."""


@dataclass(frozen=True)
class Sample:
    path: Path
    target: float


@dataclass(frozen=True)
class Split:
    name: str
    samples: tuple[Sample, ...]
    unrated: int  # frames in labels.csv with neither rating nor value


@dataclass(frozen=True)
class Dataset:
    train: Split
    val: Split


def _number(text: str | None, where: str, column: str) -> float | None:
    if text is None or not text.strip():
        return None
    try:
        number = float(text)
    except ValueError:
        raise DatasetError(f"{where}: {column} {text!r} is not a number") from None
    if not math.isfinite(number):
        raise DatasetError(f"{where}: {column} {text!r} is not a finite number")
    return number


def read_split(folder: Path, name: str) -> Split:
    labels = folder / LABELS_FILE
    if not labels.is_file():
        raise DatasetError(f"{labels} is missing: a regress dataset has a labels.csv in each split folder")
    root = folder.resolve()
    samples: list[Sample] = []
    unrated = 0
    with labels.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise DatasetError(f"{labels}: missing column(s) {', '.join(missing)}; expected {', '.join(COLUMNS)}")
        for line, row in enumerate(reader, start=2):
            where = f"{labels}:{line}"
            file_name = (row["name"] or "").strip()
            if not file_name:
                raise DatasetError(f"{where}: empty name")
            path = (folder / file_name).resolve()
            if not path.is_relative_to(root):
                raise DatasetError(f"{where}: {file_name!r} points outside its split folder")
            if not path.is_file():
                raise DatasetError(f"{where}: {file_name} is listed but not in {folder}")
            rating = _number(row["rating"], where, "rating")
            target = rating if rating is not None else _number(row["value"], where, "value")
            if target is None:
                unrated += 1
                continue
            if not 0.0 <= target <= 1.0:
                raise DatasetError(f"{where}: the target of {file_name} is {target}; ratings must lie in 0..1")
            samples.append(Sample(path, target))
    return Split(name, tuple(samples), unrated)


def read_dataset(data_yaml: Path) -> Dataset:
    """Both splits of the dataset `data_yaml` describes (a data.yaml file, or the folder that holds one)."""
    if data_yaml.is_dir():
        data_yaml = data_yaml / "data.yaml"
    if not data_yaml.is_file():
        raise DatasetError(f"dataset {str(data_yaml)!r} does not exist")
    described = yaml.safe_load(data_yaml.read_text(encoding="utf-8"))
    if not isinstance(described, dict):
        raise DatasetError(f"{data_yaml} is not a YAML mapping")
    root = Path(str(described.get("path") or data_yaml.parent))
    if not root.is_absolute():
        root = data_yaml.parent / root
    splits = {}
    for split in ("train", "val"):
        folder = described.get(split) or split
        splits[split] = read_split(root / str(folder), split)
    if not splits["train"].samples:
        raise DatasetError(
            f"{data_yaml}: the train split has no rated frames ({splits['train'].unrated} unrated); rate some first"
        )
    return Dataset(train=splits["train"], val=splits["val"])
