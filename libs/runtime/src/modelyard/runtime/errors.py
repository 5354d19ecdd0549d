"""Typed errors of the runtime library. Services translate these at their repository boundary."""

from __future__ import annotations


class RuntimeLibError(Exception):
    """Base of every error raised by modelyard.runtime."""


class StorageError(RuntimeLibError):
    pass


class ObjectNotFound(StorageError):
    def __init__(self, *, key: str) -> None:
        super().__init__(f"object {key!r} not found")
        self.key = key


class ChecksumMismatch(StorageError):
    def __init__(self, *, key: str, expected: str, actual: str) -> None:
        super().__init__(f"object {key!r}: sha256 {actual} does not match the expected {expected}")
        self.key, self.expected, self.actual = key, expected, actual
