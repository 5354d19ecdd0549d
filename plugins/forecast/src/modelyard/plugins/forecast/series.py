"""Reading a csv_series dataset as the trainer lays it out (libs/runtime/.../ultralytics_dataset.py): `data.yaml`
beside `train/` and `val/`, each holding the series samples as `<name>.csv` (and a `labels.csv`, which is not a
series and is skipped).

Each CSV is read the way the dataset service checked it at import (services/dataset/.../imports/series_file.py):
UTF-8 or Windows-1252, the delimiter that occurs most in the header (`,`, `;`, tab or `|`), a decimal comma where the
delimiter is not a comma, a timestamp column named timestamp/time/date/datetime/utc (any case) or else the first
column, ISO 8601 or a common spreadsheet timestamp format, naive timestamps in UTC, every other column a value
column, an empty cell a missing value (NaN). Every series of a dataset must have the same value columns.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import numpy.typing as npt
import yaml

TIMESTAMP_NAMES = frozenset({"timestamp", "time", "date", "datetime", "utc"})
ENCODINGS = ("utf-8-sig", "cp1252")
DELIMITERS = (",", ";", "\t", "|")
STRPTIME_FORMATS = (
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%Y/%m/%d",
    "%d.%m.%Y %H:%M:%S",
    "%d.%m.%Y %H:%M",
    "%d.%m.%Y",
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y %H:%M",
    "%m/%d/%Y %I:%M:%S %p",
    "%m/%d/%Y %I:%M %p",
    "%m/%d/%Y",
    "%d/%m/%Y %H:%M:%S",
    "%d/%m/%Y %H:%M",
    "%d/%m/%Y",
    "%d-%m-%Y %H:%M:%S",
    "%d-%m-%Y %H:%M",
    "%d-%m-%Y",
)
LABELS_FILE = "labels.csv"


class DatasetError(ValueError):
    """The dataset directory holds nothing this plugin can train on, or a series it cannot read."""


@dataclass(frozen=True)
class Series:
    """One CSV file: aware UTC timestamps (n,) and values (n, columns) with NaN for missing cells."""

    name: str
    timestamps: list[datetime]
    values: npt.NDArray[np.float64]

    @property
    def seconds(self) -> npt.NDArray[np.int64]:
        """Timestamps as integer seconds since the epoch."""
        return np.array([int(t.timestamp()) for t in self.timestamps], dtype=np.int64)


@dataclass(frozen=True)
class SeriesDataset:
    columns: tuple[str, ...]
    train: list[Series]
    val: list[Series]


def _parse_time(text: str, fmt: str | None) -> datetime | None:
    text = text.strip()
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text) if fmt is None else datetime.strptime(text, fmt)
    except ValueError:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _choose_format(samples: Sequence[str]) -> str | None:
    """None for ISO 8601 when it reads every sample, else the first strptime format that does."""
    for fmt in (None, *STRPTIME_FORMATS):
        if all(_parse_time(s, fmt) is not None for s in samples):
            return fmt
    raise DatasetError(f"timestamps such as {samples[0]!r} are in no known format")


def _number(text: str, decimal_comma: bool) -> float:
    text = text.strip()
    if not text:
        return math.nan
    if decimal_comma and "," in text and "." not in text:
        text = text.replace(",", ".")
    value = float(text)
    return value if math.isfinite(value) else math.nan


def _text(path: Path) -> str:
    data = path.read_bytes()
    for encoding in ENCODINGS:
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise DatasetError(f"{path.name}: neither UTF-8 nor Windows-1252 text")


def read_series(path: Path) -> tuple[list[str], Series]:
    """(value column names, series) of one CSV file; rows sorted by time."""
    text = _text(path)
    header_line = text.split("\n", 1)[0]
    delimiter = max(DELIMITERS, key=header_line.count) if any(d in header_line for d in DELIMITERS) else ","
    rows = [r for r in csv.reader(text.splitlines(), delimiter=delimiter) if any(c.strip() for c in r)]
    if len(rows) < 2:
        raise DatasetError(f"{path.name}: no rows")
    header = [c.strip() for c in rows[0]]
    while header and not header[-1]:
        header.pop()
    index = next((i for i, name in enumerate(header) if name.lower() in TIMESTAMP_NAMES), 0)
    value_index = [i for i in range(len(header)) if i != index]
    if not value_index:
        raise DatasetError(f"{path.name}: no value columns")
    body = [r[: len(header)] for r in rows[1:]]
    fmt = _choose_format([r[index] for r in body[:1000] if len(r) > index and r[index].strip()])
    stamps: list[datetime] = []
    values = np.empty((len(body), len(value_index)), dtype=np.float64)
    for line, cells in enumerate(body, start=2):
        if len(cells) < len(header):
            raise DatasetError(f"{path.name}, row {line}: expected {len(header)} cells, found {len(cells)}")
        stamp = _parse_time(cells[index], fmt)
        if stamp is None:
            raise DatasetError(f"{path.name}, row {line}: timestamp {cells[index]!r} does not read")
        stamps.append(stamp)
        try:
            values[line - 2] = [_number(cells[i], delimiter != ",") for i in value_index]
        except ValueError as error:
            raise DatasetError(f"{path.name}, row {line}: {error}") from None
    order = sorted(range(len(stamps)), key=stamps.__getitem__)
    return [header[i] for i in value_index], Series(path.name, [stamps[i] for i in order], values[order])


def _series_in(folder: Path) -> list[tuple[list[str], Series]]:
    if not folder.is_dir():
        return []
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() == ".csv" and p.name != LABELS_FILE)
    return [read_series(p) for p in files]


def load_dataset(data_yaml: str | Path) -> SeriesDataset:
    """Every series of the train and val folders named by data.yaml (or of the folder itself)."""
    path = Path(data_yaml)
    if not path.exists():
        raise DatasetError(f"dataset {str(data_yaml)!r} does not exist")
    root, train_dir, val_dir = path, path / "train", path / "val"
    if path.is_file():
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        root = Path(str(data.get("path") or path.parent))
        train_dir, val_dir = root / str(data.get("train", "train")), root / str(data.get("val", "val"))
    train, val = _series_in(train_dir), _series_in(val_dir)
    everything = train + val
    if not everything:
        raise DatasetError(f"no series (.csv files) in {train_dir} or {val_dir}")
    columns = everything[0][0]
    for names, series in everything:
        if sorted(names) != sorted(columns):
            raise DatasetError(f"{series.name} has columns {names}, another series has {columns}: they must match")

    def ordered(items: list[tuple[list[str], Series]]) -> list[Series]:
        out = []
        for names, series in items:
            order = [names.index(c) for c in columns]
            out.append(Series(series.name, series.timestamps, series.values[:, order]))
        return out

    return SeriesDataset(tuple(columns), ordered(train), ordered(val))
