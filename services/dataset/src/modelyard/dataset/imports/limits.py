"""Limits an import enforces so that a hostile or broken upload cannot exhaust the machine."""

from __future__ import annotations

from dataclasses import dataclass, fields


@dataclass(frozen=True)
class ImportLimits:
    """Defaults suit a small (2-core) worker.

    `max_ratio` applies to every archive entry, and to the archive as a whole, once the uncompressed size is over
    `min_ratio_check_bytes`: below that a high ratio cannot amplify into anything harmful (a small plain-coloured
    BMP or a repetitive label file compresses far better than 200:1 and is legitimate).
    """

    max_entries: int = 100_000
    max_total_bytes: int = 8 * 1024**3
    max_ratio: float = 200.0
    max_file_bytes: int = 512 * 1024**2
    min_ratio_check_bytes: int = 1024**2

    def __post_init__(self) -> None:
        for field in fields(self):
            value = getattr(self, field.name)
            if value < 0 or (value == 0 and field.name != "min_ratio_check_bytes"):
                raise ValueError(f"ImportLimits.{field.name} must be positive, got {value}")
