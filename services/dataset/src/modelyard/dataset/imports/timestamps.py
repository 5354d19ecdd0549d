"""Reading timestamps: ISO 8601 first, then the formats spreadsheets write. Results are in UTC; a timestamp
without a zone is taken to be UTC."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

ISO = "iso8601"
# Slashed dates are ambiguous: month first (US) is tried before day first; a column is read with the first format
# that reads all of its sampled values, so a day above 12 anywhere in the sample settles it.
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
FORMATS = (ISO, *STRPTIME_FORMATS)


def to_utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def parse_with(fmt: str, text: str) -> datetime | None:
    text = text.strip()
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text) if fmt == ISO else datetime.strptime(text, fmt)
    except ValueError:
        return None
    return to_utc(value)


def parse_iso(text: str) -> datetime | None:
    return parse_with(ISO, text)


def parse_any(text: str) -> datetime | None:
    for fmt in FORMATS:
        value = parse_with(fmt, text)
        if value is not None:
            return value
    return None


def choose_format(samples: Sequence[str]) -> str | None:
    """The first format that reads every sample, else the one that reads the most; None if none reads any."""
    best: str | None = None
    best_count = 0
    for fmt in FORMATS:
        count = sum(parse_with(fmt, sample) is not None for sample in samples)
        if count == len(samples) and count:
            return fmt
        if count > best_count:
            best, best_count = fmt, count
    return best
