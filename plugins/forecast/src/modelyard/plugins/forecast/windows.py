"""From a dataset and a config to model inputs and targets: the train/val split, the scaler, the windows.

Split. Series in the dataset's val folder are validation series and those in train are training series. When one of
the two folders is empty (a version's split is per file, so one file lands on one side), every series is split in
time instead: its last `val_fraction` of rows are for validation.

Windows. A window starts at row i (i = 0, stride, 2 * stride, ...): input rows i .. i + input_steps - 1, then `offset`
rows skipped, then output rows. A window is used only when every row it spans is exactly one step after the one
before (no gap, no irregular spacing) and its input and output rows hold no missing value. With a time split, a
training window's output rows all lie before the cut and a validation window's all after it (its inputs may reach
back before the cut: they are known at forecast time).

The step is the median spacing of the series' timestamps, in whole seconds. The scaler and the MASE scale come from
the training rows only.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt

from modelyard.plugins.forecast.features import DAY_SECONDS, TIME_FEATURES, ForecastSpec, assemble
from modelyard.plugins.forecast.holidays import holiday_dates
from modelyard.plugins.forecast.series import DatasetError, Series, SeriesDataset

Array = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Part:
    """A series and the range of rows [lo, hi) that this split's output rows must lie in."""

    series: Series
    lo: int
    hi: int


@dataclass(frozen=True)
class Windows:
    x: Array  # (n, input_size)
    y: Array  # (n, output_size), scaled
    first_output: list[datetime]  # timestamp of each window's first output row
    series: list[str]  # the series each window came from

    def __len__(self) -> int:
        return int(self.x.shape[0])


@dataclass(frozen=True)
class Prepared:
    spec: ForecastSpec
    train: Windows
    val: Windows
    mase_scale: Array  # (columns,) naive (seasonal) MAE on the training rows, original units
    mase_scale_scaled: float  # the same pooled over all columns, on scaled values
    train_values: Array  # the training rows (for plots)
    val_values: Array  # the validation rows


def split(dataset: SeriesDataset, val_fraction: float) -> tuple[list[Part], list[Part]]:
    if dataset.train and dataset.val:
        return (
            [Part(s, 0, len(s.timestamps)) for s in dataset.train],
            [Part(s, 0, len(s.timestamps)) for s in dataset.val],
        )
    train, val = [], []
    for s in dataset.train or dataset.val:
        n = len(s.timestamps)
        cut = n - math.ceil(n * val_fraction)
        train.append(Part(s, 0, cut))
        val.append(Part(s, cut, n))
    return train, val


def step_seconds(parts: list[Part]) -> int:
    gaps = np.concatenate([np.diff(p.series.seconds) for p in parts]) if parts else np.array([])
    gaps = gaps[gaps > 0]
    if gaps.size == 0:
        raise DatasetError("the series need at least two rows with distinct timestamps")
    return max(1, round(float(np.median(gaps))))


def enabled_features(config: Mapping[str, Any], step: int) -> tuple[str, ...]:
    """The calendar features the config turns on; hour only where the step is under a day."""
    chosen = [name for name in TIME_FEATURES if config.get(name)]
    if step >= DAY_SECONDS and "hour" in chosen:
        chosen.remove("hour")
    return tuple(chosen)


def training_rows(parts: list[Part]) -> Array:
    return np.concatenate([p.series.values[p.lo : p.hi] for p in parts], axis=0)


def build_spec(dataset: SeriesDataset, config: Mapping[str, Any]) -> ForecastSpec:
    train, val = split(dataset, float(config["val_fraction"]))
    step = step_seconds(train + val)
    rows = training_rows(train)
    if rows.size == 0 or np.isnan(rows).all(axis=0).any():
        raise DatasetError("every value column needs at least one value in the training rows")
    features = enabled_features(config, step)
    years = [t.year for p in train + val for t in (p.series.timestamps[0], p.series.timestamps[-1])]
    country = str(config.get("holiday_country", "none"))
    dates, source = holiday_dates(country, min(years), max(years)) if "holiday" in features else ([], "none")
    return ForecastSpec(
        model=str(config["model"]),
        columns=dataset.columns,
        input_steps=int(config["input_steps"]),
        output_steps=int(config["output_steps"]),
        offset=int(config["offset"]),
        step_seconds=step,
        time_zone=str(config["time_zone"]),
        time_features=features,
        scaler_min=tuple(float(v) for v in np.nanmin(rows, axis=0)),
        scaler_max=tuple(float(v) for v in np.nanmax(rows, axis=0)),
        holidays=tuple(d.isoformat() for d in dates),
        holiday_source=source,
    )


def _running(flags: npt.ArrayLike) -> npt.NDArray[np.int64]:
    """Prefix sums with a leading 0: count of flags in [a, b) = out[b] - out[a]."""
    return np.concatenate([[0], np.cumsum(np.asarray(flags, dtype=np.int64))])


def windows_of(part: Part, spec: ForecastSpec, stride: int) -> Windows:
    s = part.series
    n = len(s.timestamps)
    span = spec.input_steps + spec.offset + spec.output_steps
    starts = np.arange(0, max(n - span + 1, 0), stride, dtype=np.int64)
    first_out = starts + spec.input_steps + spec.offset
    starts = starts[(first_out >= part.lo) & (first_out + spec.output_steps <= part.hi)]
    first_out = starts + spec.input_steps + spec.offset
    irregular = _running(np.diff(s.seconds) != spec.step_seconds)  # gap j lies between rows j and j + 1
    missing = _running(np.isnan(s.values).any(axis=1))
    ok = irregular[starts + span - 1] - irregular[starts] == 0
    ok &= missing[starts + spec.input_steps] - missing[starts] == 0
    ok &= missing[first_out + spec.output_steps] - missing[first_out] == 0
    starts, first_out = starts[ok], first_out[ok]
    scaled = spec.scale(s.values)
    calendar_rows = spec.time_features_of(s.timestamps)
    inputs = starts[:, None] + np.arange(spec.input_steps)
    outputs = first_out[:, None] + np.arange(spec.output_steps)
    calendar_index = np.concatenate([inputs, outputs], axis=1)
    x = assemble(scaled[inputs], calendar_rows[calendar_index])
    y = scaled[outputs].reshape(len(starts), spec.output_size)
    return Windows(x, y, [s.timestamps[int(i)] for i in first_out], [s.name] * len(starts))


def windows(parts: list[Part], spec: ForecastSpec, stride: int) -> Windows:
    found = [windows_of(p, spec, stride) for p in parts]
    empty = np.empty((0, spec.input_size)), np.empty((0, spec.output_size))
    return Windows(
        np.concatenate([w.x for w in found], axis=0) if found else empty[0],
        np.concatenate([w.y for w in found], axis=0) if found else empty[1],
        [t for w in found for t in w.first_output],
        [name for w in found for name in w.series],
    )


def naive_scale(parts: list[Part], season: int) -> Array:
    """Per column: mean |v[t] - v[t - season]| over the training rows where both are present (NaN if none)."""
    diffs = []
    for p in parts:
        rows = p.series.values[p.lo : p.hi]
        if rows.shape[0] > season:
            diffs.append(np.abs(rows[season:] - rows[:-season]))
    if not diffs:
        return np.full(parts[0].series.values.shape[1] if parts else 0, np.nan)
    stacked = np.concatenate(diffs, axis=0)
    with np.errstate(invalid="ignore"):
        counts = (~np.isnan(stacked)).sum(axis=0)
        sums = np.nansum(stacked, axis=0)
        result: Array = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    return result


def prepare(dataset: SeriesDataset, config: Mapping[str, Any], spec: ForecastSpec | None = None) -> Prepared:
    """Windows for training and validation. `spec` (from a checkpoint) replaces the one the data would give, so a
    resumed run scales exactly as the run it continues."""
    spec = spec or build_spec(dataset, config)
    train_parts, val_parts = split(dataset, float(config["val_fraction"]))
    stride = int(config["window_stride"])
    train, val = windows(train_parts, spec, stride), windows(val_parts, spec, stride)
    need = spec.input_steps + spec.offset + spec.output_steps
    if len(train) < 2 or len(val) < 1:
        raise DatasetError(
            f"too little data: {len(train)} training and {len(val)} validation windows of {need} regular, complete "
            f"rows (step {spec.step_seconds} s); at least 2 and 1 are needed: add rows or shorten the windows"
        )
    season = int(config["mase_season"])
    scaled_parts = [
        Part(Series(p.series.name, p.series.timestamps, spec.scale(p.series.values)), p.lo, p.hi) for p in train_parts
    ]
    pooled = naive_scale(scaled_parts, season)
    return Prepared(
        spec=spec,
        train=train,
        val=val,
        mase_scale=naive_scale(train_parts, season),
        mase_scale_scaled=float(np.nanmean(pooled)) if np.isfinite(pooled).any() else math.nan,
        train_values=training_rows(train_parts),
        val_values=training_rows(val_parts),
    )
