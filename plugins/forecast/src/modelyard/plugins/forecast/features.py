"""What training and the edge both compute, so that they compute it the same way: calendar features, the min-max
scaler, the model input of one window, the forecast timestamps, and the `ForecastSpec` that carries all of it in the
ONNX file's metadata_props. numpy and the standard library only (the edge imports this module).

Timestamps. Text is read as ISO 8601 (`datetime.fromisoformat`); a timestamp without an offset is UTC (as the
dataset service reads it). Calendar features are taken on the wall clock of the spec's time zone.

Calendar features, each a cycle encoded as sin and cos of 2*pi*fraction (so that December sits next to January),
in this order and under these names (a spec lists the ones it uses):

- year: fraction of the calendar year elapsed, (local time - Jan 1 00:00) / length of that year;
- month: month of the year, (month - 1) / 12;
- week: ISO week of the year, (week - 1) / 53;
- day_of_week: weekday, Monday = 0, / 7;
- day: day of the month, (day - 1) / days in that month;
- hour: time of day, seconds since local midnight / 86400; used only when the series' step is under a day (for daily
  or coarser data it is constant);
- holiday: one column, 1.0 when the local date is in the spec's holiday table, else 0.0 (the table is computed at
  training time for the training years and the ten years after them; a date outside it counts as no holiday).

Model input of one window (a float32 row vector, in this order):
  the input rows' values, min-max scaled, row by row (input_steps x columns),
  then the calendar features of the input rows and then of the forecast rows, row by row
  ((input_steps + output_steps) x features).
Model output: the forecast rows, scaled, row by row (output_steps x columns).

Scaling: scaled = (value - min) / (max - min) per column, with min and max of the training split; a column whose
training values are all equal is scaled by 1 (scaled = value - min).
"""

from __future__ import annotations

import calendar
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import numpy.typing as npt

FORMAT_VERSION = 1
METADATA_KEY = "modelyard.forecast"  # the ONNX metadata_props entry holding the spec as JSON
TIME_FEATURES = ("year", "month", "week", "day_of_week", "day", "hour", "holiday")
CYCLIC = frozenset(TIME_FEATURES) - {"holiday"}
DAY_SECONDS = 86_400
MODEL_KINDS = ("linear", "mlp", "svr")

Array = npt.NDArray[np.float64]


class SpecError(ValueError):
    """A ForecastSpec that is not usable (bad metadata in a model file, or an impossible configuration)."""


def parse_timestamp(text: str) -> datetime:
    """An ISO 8601 timestamp as an aware UTC datetime; naive means UTC. ValueError if it does not read."""
    value = datetime.fromisoformat(text.strip())
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def feature_names(time_features: Sequence[str]) -> list[str]:
    """The column names of the calendar features, in model order."""
    names: list[str] = []
    for name in TIME_FEATURES:
        if name in time_features:
            names.extend([f"{name}_sin", f"{name}_cos"] if name in CYCLIC else [name])
    return names


@dataclass(frozen=True)
class ForecastSpec:
    """Everything needed to build a model input from raw rows and to read the model output back."""

    model: str
    columns: tuple[str, ...]
    input_steps: int
    output_steps: int
    offset: int
    step_seconds: int
    time_zone: str
    time_features: tuple[str, ...]
    scaler_min: tuple[float, ...]
    scaler_max: tuple[float, ...]
    holidays: tuple[str, ...] = ()
    holiday_source: str = "none"
    format_version: int = FORMAT_VERSION
    _zone: ZoneInfo = field(init=False, repr=False, compare=False)
    _holiday_set: frozenset[date] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.format_version != FORMAT_VERSION:
            raise SpecError(f"spec format {self.format_version} is not supported (this runtime reads {FORMAT_VERSION})")
        if self.model not in MODEL_KINDS:
            raise SpecError(f"model {self.model!r} is not one of {', '.join(MODEL_KINDS)}")
        if not self.columns or not all(isinstance(c, str) and c for c in self.columns):
            raise SpecError("columns must be a non-empty list of names")
        for name in ("input_steps", "output_steps", "step_seconds"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise SpecError(f"{name} must be a positive integer, got {value!r}")
        if isinstance(self.offset, bool) or not isinstance(self.offset, int) or self.offset < 0:
            raise SpecError(f"offset must be a non-negative integer, got {self.offset!r}")
        unknown = [f for f in self.time_features if f not in TIME_FEATURES]
        if unknown:
            raise SpecError(f"unknown time features {unknown}; known: {', '.join(TIME_FEATURES)}")
        if len(self.scaler_min) != len(self.columns) or len(self.scaler_max) != len(self.columns):
            raise SpecError("scaler_min and scaler_max need one value per column")
        if not all(math.isfinite(v) for v in (*self.scaler_min, *self.scaler_max)):
            raise SpecError("scaler values must be finite")
        try:
            zone = ZoneInfo(self.time_zone)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise SpecError(f"unknown time zone {self.time_zone!r}") from error
        try:
            holidays = frozenset(date.fromisoformat(d) for d in self.holidays)
        except (TypeError, ValueError) as error:
            raise SpecError(f"holidays must be ISO dates: {error}") from error
        object.__setattr__(self, "_zone", zone)
        object.__setattr__(self, "_holiday_set", holidays)

    # ---- sizes -----------------------------------------------------------------------------------------------------

    @property
    def feature_columns(self) -> list[str]:
        return feature_names(self.time_features)

    @property
    def input_size(self) -> int:
        return self.input_steps * len(self.columns) + (self.input_steps + self.output_steps) * len(self.feature_columns)

    @property
    def output_size(self) -> int:
        return self.output_steps * len(self.columns)

    # ---- (de)serialising -------------------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        for spec_field in fields(self):
            if spec_field.init:
                value = getattr(self, spec_field.name)
                data[spec_field.name] = list(value) if isinstance(value, tuple) else value
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, allow_nan=False, separators=(",", ":"))

    @classmethod
    def from_dict(cls, data: object) -> ForecastSpec:
        if not isinstance(data, dict):
            raise SpecError("the forecast spec must be a JSON object")
        known = {"model", "columns", "input_steps", "output_steps", "offset", "step_seconds", "time_zone"}
        known |= {"time_features", "scaler_min", "scaler_max", "holidays", "holiday_source", "format_version"}
        missing = sorted(known - {"holidays", "holiday_source", "format_version"} - set(data))
        if missing:
            raise SpecError(f"the forecast spec lacks {', '.join(missing)}")
        values = {k: v for k, v in data.items() if k in known}
        try:
            for key in ("columns", "time_features", "holidays"):
                if key in values:
                    values[key] = tuple(str(v) for v in values[key])
            for key in ("scaler_min", "scaler_max"):
                values[key] = tuple(float(v) for v in values[key])
        except (TypeError, ValueError) as error:
            raise SpecError(f"malformed forecast spec: {error}") from error
        return cls(**values)

    @classmethod
    def from_json(cls, text: str) -> ForecastSpec:
        try:
            data = json.loads(text)
        except ValueError as error:
            raise SpecError(f"the forecast spec is not JSON: {error}") from error
        return cls.from_dict(data)

    # ---- scaling ---------------------------------------------------------------------------------------------------

    def _scale_parts(self) -> tuple[Array, Array]:
        low = np.asarray(self.scaler_min, dtype=np.float64)
        span = np.asarray(self.scaler_max, dtype=np.float64) - low
        return low, np.where(span > 0, span, 1.0)

    def scale(self, values: npt.ArrayLike) -> Array:
        """Raw values (..., columns) -> scaled."""
        low, span = self._scale_parts()
        return (np.asarray(values, dtype=np.float64) - low) / span

    def unscale(self, values: npt.ArrayLike) -> Array:
        """Scaled values (..., columns) -> raw."""
        low, span = self._scale_parts()
        return np.asarray(values, dtype=np.float64) * span + low

    # ---- calendar --------------------------------------------------------------------------------------------------

    def time_features_of(self, timestamps: Sequence[datetime]) -> Array:
        """(len(timestamps), len(feature_columns)) calendar features; timestamps must be aware."""
        names = [n for n in TIME_FEATURES if n in self.time_features]
        out = np.empty((len(timestamps), len(self.feature_columns)), dtype=np.float64)
        for row, stamp in enumerate(timestamps):
            local = stamp.astimezone(self._zone).replace(tzinfo=None)
            column = 0
            for name in names:
                if name == "holiday":
                    out[row, column] = 1.0 if local.date() in self._holiday_set else 0.0
                    column += 1
                    continue
                angle = 2.0 * math.pi * _fraction(name, local)
                out[row, column] = math.sin(angle)
                out[row, column + 1] = math.cos(angle)
                column += 2
        return out

    def future_timestamps(self, last_input: datetime) -> list[datetime]:
        """The timestamps of the forecast rows after an input window ending at `last_input`."""
        step = timedelta(seconds=self.step_seconds)
        return [last_input + step * (self.offset + k) for k in range(1, self.output_steps + 1)]

    # ---- the model's input and output ------------------------------------------------------------------------------

    def model_input(self, values: npt.ArrayLike, timestamps: Sequence[datetime]) -> npt.NDArray[np.float32]:
        """The (1, input_size) float32 input for one window of raw rows (input_steps, columns) at `timestamps`
        (aware, one per row). Shapes are the caller's to check (the edge names the field that is wrong)."""
        rows = np.asarray(values, dtype=np.float64)
        calendar_rows = self.time_features_of([*timestamps, *self.future_timestamps(timestamps[-1])])
        return assemble(self.scale(rows)[np.newaxis], calendar_rows[np.newaxis]).astype(np.float32)

    def forecast_rows(self, output: npt.ArrayLike) -> Array:
        """A model output (n, output_size) -> forecasts in original units (n, output_steps, columns)."""
        scaled = np.asarray(output, dtype=np.float64).reshape(-1, self.output_steps, len(self.columns))
        return self.unscale(scaled)


def assemble(scaled_inputs: Array, calendar_rows: Array) -> Array:
    """Model inputs of n windows: scaled input rows (n, input_steps, columns) and the calendar features of input and
    forecast rows (n, input_steps + output_steps, features) -> (n, input_size)."""
    n = scaled_inputs.shape[0]
    widths = (int(np.prod(scaled_inputs.shape[1:])), int(np.prod(calendar_rows.shape[1:])))
    return np.concatenate([scaled_inputs.reshape(n, widths[0]), calendar_rows.reshape(n, widths[1])], axis=1)


def _fraction(name: str, local: datetime) -> float:
    if name == "year":
        start = datetime(local.year, 1, 1)
        length = (datetime(local.year + 1, 1, 1) - start).total_seconds()
        return (local - start).total_seconds() / length
    if name == "month":
        return (local.month - 1) / 12.0
    if name == "week":
        return (local.isocalendar().week - 1) / 53.0
    if name == "day_of_week":
        return local.weekday() / 7.0
    if name == "day":
        return (local.day - 1) / calendar.monthrange(local.year, local.month)[1]
    if name == "hour":
        return (local.hour * 3600 + local.minute * 60 + local.second + local.microsecond / 1e6) / DAY_SECONDS
    raise ValueError(f"no fraction for {name!r}")  # pragma: no cover - names are checked by the spec
