"""Checking one CSV time series and summarising it.

Rules: a header row; a timestamp column (named timestamp, time, date, datetime or utc, in any case, or else the
first column when its first value reads as a timestamp; an unnamed first column, as pandas writes its index, must
hold the timestamps); every other column is a value column and holds numbers.
An empty value cell is allowed and counted as missing (gaps are normal in sensor data); an empty timestamp is not.
Timestamps must read (ISO 8601 or a common spreadsheet format, one format per file) and increase strictly.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime
from itertools import chain, islice
from pathlib import Path

from modelyard.dataset.imports.csv_text import detect_delimiter, detect_encoding, first_line, parse_number, rows
from modelyard.dataset.imports.problems import ProblemLog
from modelyard.dataset.imports.timestamps import choose_format, parse_any, parse_with

TIMESTAMP_NAMES = frozenset({"timestamp", "time", "date", "datetime", "utc"})
FORMAT_SAMPLE_ROWS = 1000


@dataclass(frozen=True)
class SeriesSummary:
    columns: list[str]
    timestamp_column: str
    value_columns: list[str]
    rows: int
    first: datetime
    last: datetime
    missing_values: int
    delimiter: str
    encoding: str


@dataclass
class _Header:
    columns: list[str]
    line: int


def _header(cells: list[str], line: int, file: str, log: ProblemLog) -> _Header | None:
    columns = [cell.strip() for cell in cells]
    while columns and not columns[-1]:
        columns.pop()
    problems_before = len(log)
    # The first column may be unnamed: pandas writes its index (the timestamps) that way; see _timestamp_index.
    for index, name in enumerate(columns[1:], start=2):
        if not name:
            log.add(file, line, f"column {index} has no name")
    duplicates = sorted({name for name in columns if name and columns.count(name) > 1})
    if duplicates:
        log.add(file, line, f"column names are used more than once: {', '.join(duplicates)}")
    if len(columns) < 2:
        log.add(file, line, "a series needs a timestamp column and at least one value column")
    return _Header(columns=columns, line=line) if len(log) == problems_before else None


def _timestamp_index(header: _Header, head: list[tuple[int, list[str]]]) -> int | None:
    """A column named for time; else the first column when its first value reads as a timestamp."""
    if header.columns[0]:
        for index, name in enumerate(header.columns):
            if name.lower() in TIMESTAMP_NAMES:
                return index
    first_value = head[0][1][0] if head and head[0][1] else ""
    return 0 if parse_any(first_value) is not None else None


class _Checker:
    """Walks the rows once, reporting each bad one and keeping what the summary needs."""

    def __init__(self, file: str, header: _Header, timestamp: int, fmt: str, decimal_comma: bool, log: ProblemLog):
        self.file, self.header, self.timestamp, self.fmt = file, header, timestamp, fmt
        self.decimal_comma, self.log = decimal_comma, log
        self.width = len(header.columns)
        self.values = [index for index in range(self.width) if index != timestamp]
        self.numbers_seen = dict.fromkeys(self.values, 0)
        self.rows = self.missing = 0
        self.first: datetime | None = None
        self.previous: tuple[datetime, int] | None = None

    def check(self, line: int, cells: list[str]) -> None:
        if len(cells) > self.width and not any(cell.strip() for cell in cells[self.width :]):
            cells = cells[: self.width]
        if len(cells) != self.width:
            self.log.add(self.file, line, f"expected {self.width} values, found {len(cells)}")
            return
        self.rows += 1
        self._timestamp(line, cells[self.timestamp].strip())
        for index in self.values:
            text = cells[index].strip()
            if not text:
                self.missing += 1
            elif parse_number(text, self.decimal_comma) is None:
                self.log.add(self.file, line, f"column {self.header.columns[index]!r}: {text!r} is not a number")
            else:
                self.numbers_seen[index] += 1

    def _timestamp(self, line: int, text: str) -> None:
        if not text:
            self.log.add(self.file, line, "the timestamp is empty")
            return
        when = parse_with(self.fmt, text)
        if when is None:
            self.log.add(self.file, line, f"timestamp {text!r} cannot be read (ISO 8601 works: 2024-01-15T10:00:00Z)")
            return
        if self.previous is not None and when <= self.previous[0]:
            self.log.add(
                self.file,
                line,
                f"timestamp {text!r} is not after the one on line {self.previous[1]}; timestamps must increase",
            )
        self.first = self.first or when
        self.previous = (when, line)


def _check(lines: Iterator[tuple[int, list[str]]], file: str, delimiter: str, log: ProblemLog) -> _Checker | None:
    start = next(lines, None)
    if start is None:
        log.add(file, None, "the CSV file is empty")
        return None
    header = _header(start[1], start[0], file, log)
    if header is None:
        return None
    head = list(islice(lines, FORMAT_SAMPLE_ROWS))
    if not head:
        log.add(file, header.line, "the CSV file has a header but no rows")
        return None
    timestamp = _timestamp_index(header, head)
    if timestamp is None and not header.columns[0]:
        log.add(file, header.line, "column 1 has no name and does not hold timestamps")
        return None
    if timestamp is None:
        message = "no timestamp column: name it timestamp, time, date or datetime, or put timestamps first"
        log.add(file, header.line, message)
        return None
    samples = [cells[timestamp].strip() for _, cells in head if len(cells) > timestamp and cells[timestamp].strip()]
    checker = _Checker(file, header, timestamp, choose_format(samples) or "", delimiter != ",", log)
    for line, cells in chain(head, lines):
        checker.check(line, cells)
    if not any(checker.numbers_seen.values()):
        log.add(file, None, "no value column holds a number; a series needs at least one numeric column")
    return checker


def read_series(path: Path, file: str, log: ProblemLog) -> SeriesSummary | None:
    """The summary of a valid series; None (with every problem logged) otherwise."""
    encoding = detect_encoding(path)
    if encoding is None:
        log.add(file, None, "the file is not UTF-8 or Windows-1252 text")
        return None
    delimiter = detect_delimiter(first_line(path, encoding))
    before = len(log)
    with closing(rows(path, encoding, delimiter, file, log)) as lines:
        checker = _check(lines, file, delimiter, log)
    if checker is None or len(log) > before or checker.first is None or checker.previous is None:
        return None
    header, timestamp = checker.header, checker.timestamp
    columns = header.columns
    return SeriesSummary(
        columns=columns,
        timestamp_column=columns[timestamp],
        value_columns=[columns[index] for index in checker.values],
        rows=checker.rows,
        first=checker.first,
        last=checker.previous[0],
        missing_values=checker.missing,
        delimiter=delimiter,
        encoding=encoding,
    )
