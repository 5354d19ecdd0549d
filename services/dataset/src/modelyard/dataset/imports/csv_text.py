"""Reading a CSV file's text: its encoding, its delimiter, its rows with their line numbers."""

from __future__ import annotations

import codecs
import csv
import math
from collections.abc import Generator
from pathlib import Path

from modelyard.dataset.imports.problems import ProblemLog

# UTF-8 first; Windows-1252 is what Excel writes on most European machines.
ENCODINGS = ("utf-8-sig", "cp1252")
DELIMITERS = (",", ";", "\t", "|")
CHUNK_BYTES = 1024 * 1024


def detect_encoding(path: Path) -> str | None:
    for encoding in ENCODINGS:
        decoder = codecs.getincrementaldecoder(encoding)()
        try:
            with path.open("rb") as stream:
                while chunk := stream.read(CHUNK_BYTES):
                    decoder.decode(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            continue
        return encoding
    return None


def detect_delimiter(header: str) -> str:
    """The candidate delimiter that occurs most in the header line; a comma when none does."""
    counts = {delimiter: header.count(delimiter) for delimiter in DELIMITERS}
    best = max(DELIMITERS, key=lambda delimiter: counts[delimiter])
    return best if counts[best] else ","


def rows(
    path: Path, encoding: str, delimiter: str, file: str, log: ProblemLog
) -> Generator[tuple[int, list[str]], None, None]:
    """(line number, cells) of every row that is not blank; a row the csv module cannot read ends the file."""
    with path.open(encoding=encoding, newline="") as stream:
        reader = csv.reader(stream, delimiter=delimiter)
        try:
            for cells in reader:
                if any(cell.strip() for cell in cells):
                    yield reader.line_num, cells
        except csv.Error as error:
            log.add(file, reader.line_num, f"the CSV cannot be read past this line ({error})")


def first_line(path: Path, encoding: str) -> str:
    with path.open(encoding=encoding, newline="") as stream:
        return stream.readline()


def parse_number(text: str, decimal_comma: bool) -> float | None:
    """A finite number, or None. With a ';' or tab delimiter a decimal comma ("1,5") is read as a point."""
    if decimal_comma and "," in text and "." not in text:
        text = text.replace(",", ".")
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None
