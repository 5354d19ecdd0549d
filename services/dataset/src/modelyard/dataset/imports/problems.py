"""Problems found in an upload, the error that carries all of them, and the log that collects them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

SUMMARY_COUNT = 3
DEFAULT_PROBLEM_LIMIT = 1000


@dataclass(frozen=True)
class ImportProblem:
    """One thing wrong with an upload: the file inside the upload, the 1-based line where it applies, what is wrong."""

    file: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return f"{where}: {self.message}" if where else self.message


class ImportFailed(Exception):
    """The upload cannot be imported; `problems` lists everything found, in the order it was found."""

    def __init__(self, problems: Iterable[ImportProblem]) -> None:
        self.problems: list[ImportProblem] = list(problems)
        super().__init__(self.summary())

    def summary(self) -> str:
        count = len(self.problems)
        if not count:
            return "the upload cannot be imported"
        shown = "; ".join(str(problem) for problem in self.problems[:SUMMARY_COUNT])
        more = f" (and {count - SUMMARY_COUNT} more)" if count > SUMMARY_COUNT else ""
        return f"{count} problem{'s' if count != 1 else ''} in the upload: {shown}{more}"

    def __str__(self) -> str:
        return self.summary()

    def __reduce__(self) -> tuple[type[ImportFailed], tuple[list[ImportProblem]]]:
        return (ImportFailed, (self.problems,))


class ProblemLog:
    """Collects problems while an import goes on; keeps the first `limit` and counts the rest."""

    def __init__(self, limit: int = DEFAULT_PROBLEM_LIMIT) -> None:
        self._limit = limit
        self._kept: list[ImportProblem] = []
        self._dropped = 0

    def add(self, file: str, line: int | None, message: str) -> None:
        if len(self._kept) < self._limit:
            self._kept.append(ImportProblem(file=file, line=line, message=message))
        else:
            self._dropped += 1

    @property
    def problems(self) -> list[ImportProblem]:
        if not self._dropped:
            return list(self._kept)
        note = ImportProblem(file="", line=None, message=f"{self._dropped} more problems not listed")
        return [*self._kept, note]

    def __bool__(self) -> bool:
        return bool(self._kept)

    def __len__(self) -> int:
        return len(self._kept) + self._dropped

    def failed(self) -> ImportFailed:
        """The error to raise now that the import cannot go on."""
        return ImportFailed(self.problems)

    def raise_if_any(self) -> None:
        if self:
            raise self.failed()
