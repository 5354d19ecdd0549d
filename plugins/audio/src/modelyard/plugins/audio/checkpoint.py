"""last.pt and best.pt: everything a resumed attempt needs (weights, optimiser, schedule and early-stopping state,
the epoch reached) and everything the export needs (architecture, class names, feature parameters). Written to a
temporary file and renamed, so that a reader (or a kill) never sees half a checkpoint. Loaded with
`weights_only=True`: a checkpoint holds tensors and plain values only, never pickled objects."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

FORMAT = "modelyard-audio/1"


def save(path: Path, state: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    torch.save({"format": FORMAT, **state}, tmp)
    tmp.replace(path)
    return path


def load(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} is not a local file")
    state: Any = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        found = state.get("format") if isinstance(state, dict) else type(state).__name__
        raise ValueError(f"{path} is not an audio classifier checkpoint (format {found!r}, expected {FORMAT!r})")
    return state
