"""Calendar features, the scaler, the spec in the model metadata, and the windows cut from series."""

from __future__ import annotations

import math
import sys
import types
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.preprocessing import MinMaxScaler  # type: ignore[import-untyped]

from modelyard.plugins.forecast import holidays
from modelyard.plugins.forecast.features import ForecastSpec, SpecError, feature_names, parse_timestamp
from modelyard.plugins.forecast.series import DatasetError, load_dataset, read_series
from modelyard.plugins.forecast.train import resolve_config
from modelyard.plugins.forecast.windows import build_spec, enabled_features, prepare

from .conftest import HOUR, START, make_dataset, series_rows, write_series

ALL = ("year", "month", "week", "day_of_week", "day", "hour", "holiday")


def spec(**changes: Any) -> ForecastSpec:
    values: dict[str, Any] = {
        "model": "linear",
        "columns": ("a", "b"),
        "input_steps": 3,
        "output_steps": 2,
        "offset": 0,
        "step_seconds": 3600,
        "time_zone": "UTC",
        "time_features": ALL,
        "scaler_min": (0.0, 10.0),
        "scaler_max": (2.0, 10.0),
        "holidays": ("2026-01-06",),
    }
    return ForecastSpec(**(values | changes))


def test_calendar_features_follow_their_definitions() -> None:
    s = spec()
    assert (
        s.feature_columns
        == feature_names(ALL)
        == [
            *(f"{n}_{p}" for n in ("year", "month", "week", "day_of_week", "day", "hour") for p in ("sin", "cos")),
            "holiday",
        ]
    )
    when = datetime(2026, 1, 6, 18, 0, tzinfo=UTC)  # a Tuesday, ISO week 2, Epiphany
    row = s.time_features_of([when])[0]
    fractions = {
        "year": (5 * 24 + 18) / (365 * 24),
        "month": 0 / 12,
        "week": 1 / 53,
        "day_of_week": 1 / 7,
        "day": 5 / 31,
        "hour": 18 / 24,
    }
    for i, fraction in enumerate(fractions.values()):
        assert row[2 * i] == pytest.approx(math.sin(2 * math.pi * fraction), abs=1e-12)
        assert row[2 * i + 1] == pytest.approx(math.cos(2 * math.pi * fraction), abs=1e-12)
    assert row[-1] == 1.0
    assert s.time_features_of([when + timedelta(days=1)])[0][-1] == 0.0


def test_calendar_features_use_the_wall_clock_of_the_time_zone() -> None:
    vienna = spec(time_zone="Europe/Vienna", time_features=("month", "day", "hour"))
    local = spec(time_zone="UTC", time_features=("month", "day", "hour"))
    # 22:30 UTC on June 30 is 00:30 on July 1 in Vienna (summer time, UTC+2)
    in_vienna = vienna.time_features_of([datetime(2026, 6, 30, 22, 30, tzinfo=UTC)])
    same_wall_clock = local.time_features_of([datetime(2026, 7, 1, 0, 30, tzinfo=UTC)])
    np.testing.assert_allclose(in_vienna, same_wall_clock, atol=1e-12)


def test_naive_timestamps_are_utc() -> None:
    assert parse_timestamp("2026-01-01T05:00:00") == datetime(2026, 1, 1, 5, tzinfo=UTC)
    assert parse_timestamp("2026-01-01T06:00:00+01:00") == datetime(2026, 1, 1, 5, tzinfo=UTC)
    with pytest.raises(ValueError, match="Invalid isoformat"):
        parse_timestamp("yesterday")


def test_hour_is_dropped_for_daily_steps() -> None:
    config = dict.fromkeys(ALL, True)
    assert "hour" in enabled_features(config, 3600)
    assert "hour" not in enabled_features(config, 86_400)


def test_min_max_scaler_matches_scikit_learn_fitted_on_the_same_rows() -> None:
    rng = np.random.default_rng(3)
    train = rng.normal(5, 3, (50, 3))
    train[:, 2] = 7.0  # a constant column: scikit-learn scales it by 1 too
    other = rng.normal(5, 4, (20, 3))
    s = spec(
        columns=("a", "b", "c"),
        scaler_min=tuple(train.min(axis=0)),
        scaler_max=tuple(train.max(axis=0)),
    )
    reference = MinMaxScaler().fit(train)
    np.testing.assert_allclose(s.scale(other), reference.transform(other), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(s.unscale(s.scale(other)), other, rtol=1e-12)
    np.testing.assert_allclose(s.unscale(other), reference.inverse_transform(other), rtol=1e-12, atol=1e-12)


def test_the_spec_survives_its_json_and_refuses_what_the_edge_cannot_use() -> None:
    s = spec()
    again = ForecastSpec.from_json(s.to_json())
    assert again == s and again.input_size == 3 * 2 + 5 * 13 and again.output_size == 4
    with pytest.raises(SpecError, match="time zone"):
        spec(time_zone="Mars/Olympus")
    with pytest.raises(SpecError, match="one value per column"):
        spec(scaler_min=(0.0,))
    with pytest.raises(SpecError, match="unknown time features"):
        spec(time_features=("minute",))
    with pytest.raises(SpecError, match="lacks"):
        ForecastSpec.from_json('{"model": "linear"}')
    with pytest.raises(SpecError, match="not JSON"):
        ForecastSpec.from_json("{")


def test_future_timestamps_follow_the_offset_and_step() -> None:
    s = spec(offset=2)
    last = datetime(2026, 1, 1, 10, tzinfo=UTC)
    assert s.future_timestamps(last) == [last + HOUR * 3, last + HOUR * 4]


# ---- holidays -------------------------------------------------------------------------------------------------


def test_fixed_holiday_table() -> None:
    assert [holidays.easter_sunday(y) for y in (2024, 2025, 2026, 2038)] == [
        date(2024, 3, 31),
        date(2025, 4, 20),
        date(2026, 4, 5),
        date(2038, 4, 25),
    ]
    austria = holidays.fixed_table("AT", [2026])
    assert len(austria) == 13
    assert {date(2026, 1, 6), date(2026, 4, 6), date(2026, 5, 14), date(2026, 6, 4), date(2026, 10, 26)} <= set(austria)
    us = set(holidays.fixed_table("US", [2026]))
    assert {date(2026, 1, 19), date(2026, 5, 25), date(2026, 9, 7), date(2026, 11, 26)} <= us
    assert {date(2026, 5, 4), date(2026, 5, 25), date(2026, 8, 31)} <= set(holidays.fixed_table("GB", [2026]))
    assert holidays.fixed_table("none", [2026]) == []


def test_the_holidays_package_is_used_when_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, list[int]]] = []

    def country_holidays(country: str, years: list[int]) -> dict[date, str]:
        calls.append((country, years))
        return {date(2026, 3, 3): "made up"}

    fake = types.ModuleType("holidays")
    fake.country_holidays = country_holidays  # type: ignore[attr-defined]
    fake.__version__ = "9.9"  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "holidays", fake)
    found, source = holidays.holiday_dates("DE", 2025, 2026)
    assert found == [date(2026, 3, 3)] and source == "holidays 9.9"
    assert calls == [("DE", list(range(2025, 2026 + holidays.FUTURE_YEARS + 1)))]
    monkeypatch.setitem(sys.modules, "holidays", None)  # import fails: the fixed table
    found, source = holidays.holiday_dates("DE", 2026, 2026)
    assert source == holidays.FIXED_TABLE and date(2026, 10, 3) in found


# ---- series and windows ---------------------------------------------------------------------------------------


def test_series_read_as_the_dataset_service_checked_them(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    path.write_bytes("Zeit;Temperatur °C;Last\n01.01.2026 01:00;1,5;3\n01.01.2026 00:00;2,5;\n".encode("cp1252"))
    columns, series = read_series(path)
    assert columns == ["Temperatur °C", "Last"]
    assert series.timestamps == [START, START + HOUR]  # sorted by time
    assert series.values[0, 0] == 2.5 and math.isnan(series.values[0, 1])
    np.testing.assert_array_equal(series.values[1], [1.5, 3.0])


def test_windows_skip_gaps_and_missing_values(tmp_path: Path) -> None:
    rows = series_rows(40)
    rows[10][2] = None  # a missing load value
    del rows[25]  # a gap of two hours
    write_series(tmp_path / "train" / "a.csv", rows)
    config = resolve_config({"input_steps": 4, "output_steps": 2, "model": "linear", "val_fraction": 0.25})
    prepared = prepare(load_dataset(tmp_path), config)
    s = prepared.spec
    assert s.step_seconds == 3600 and s.columns == ("temperature", "load")
    # 39 rows, split in time at 39 - ceil(39 * 0.25) = 29; a window spans 6 rows
    starts = [i for i in range(39 - 6 + 1) if not (i <= 10 <= i + 5) and not (i <= 24 <= i + 4)]
    train = [i for i in starts if i + 4 + 2 <= 29]
    val = [i for i in starts if i + 4 >= 29]
    assert (len(prepared.train), len(prepared.val)) == (len(train), len(val))
    first = prepared.train.x[0]
    values = np.array([[r[1], r[2]] for r in rows[:4]], dtype=np.float64)
    np.testing.assert_allclose(first[:8], s.scale(values).ravel())
    stamps = [parse_timestamp(r[0]) for r in rows[:4]]
    np.testing.assert_allclose(first, s.model_input(values, stamps)[0], atol=1e-6)  # the edge builds the same input
    target = np.array([[r[1], r[2]] for r in rows[4:6]], dtype=np.float64)
    np.testing.assert_allclose(prepared.train.y[0], s.scale(target).ravel())
    # the scaler saw the training rows only
    assert s.scaler_max[0] == max(float(r[1]) for r in rows[:29])


def test_dataset_folders_decide_the_split_and_the_scaler(tmp_path: Path) -> None:
    data = make_dataset(tmp_path, train_rows=60, val_rows=30)
    config = resolve_config({"input_steps": 6, "output_steps": 2, "window_stride": 2, "model": "linear"})
    prepared = prepare(load_dataset(data), config)
    assert len(prepared.train) == len(range(0, 60 - 8 + 1, 2)) and len(prepared.val) == len(range(0, 30 - 8 + 1, 2))
    assert prepared.spec.holidays and prepared.spec.holiday_source == holidays.FIXED_TABLE
    train_rows = np.array([r[1:] for r in series_rows(60, seed=1)], dtype=np.float64)
    assert prepared.spec.scaler_min == tuple(train_rows.min(axis=0))
    assert prepared.mase_scale == pytest.approx(np.abs(np.diff(train_rows, axis=0)).mean(axis=0))


def test_too_little_data_and_mismatched_columns_are_refused(tmp_path: Path) -> None:
    write_series(tmp_path / "small" / "train" / "a.csv", series_rows(10))
    with pytest.raises(DatasetError, match="too little data"):
        prepare(load_dataset(tmp_path / "small"), resolve_config({"input_steps": 6, "output_steps": 3}))
    write_series(tmp_path / "mixed" / "train" / "a.csv", series_rows(10))
    write_series(tmp_path / "mixed" / "val" / "b.csv", [r[:2] for r in series_rows(10)], ("timestamp", "temperature"))
    with pytest.raises(DatasetError, match="must match"):
        load_dataset(tmp_path / "mixed")
    (tmp_path / "empty" / "train").mkdir(parents=True)
    with pytest.raises(DatasetError, match="no series"):
        load_dataset(tmp_path / "empty")
    with pytest.raises(DatasetError, match="does not exist"):
        load_dataset(tmp_path / "nothing-here")


def test_the_holiday_table_reaches_ten_years_past_the_data(tmp_path: Path) -> None:
    write_series(tmp_path / "train" / "a.csv", series_rows(48))
    s = build_spec(load_dataset(tmp_path), resolve_config({"holiday_country": "DE"}))
    years = {date.fromisoformat(d).year for d in s.holidays}
    assert years == set(range(2026, 2037)) and s.time_zone == "Europe/Vienna"
