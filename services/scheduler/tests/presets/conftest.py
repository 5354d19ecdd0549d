"""Fixtures for the preset tests. Ultralytics is imported only here, lazily, offline and with its settings file in a
temporary folder, so the tests neither reach the network nor write to the user's config directory."""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

# Until the scheduler is installed into the venv (make install), import it from its source folder.
if importlib.util.find_spec("modelyard.scheduler") is None:  # pragma: no cover - depends on the venv
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))


@pytest.fixture(scope="session")
def ultralytics_cfg(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    """The installed `ultralytics.cfg` module (DEFAULT_CFG_DICT, get_cfg, parse_key_value_pair)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("YOLO_OFFLINE", "1")
        patch.setenv("YOLO_CONFIG_DIR", str(tmp_path_factory.mktemp("ultralytics-config")))
        yield importlib.import_module("ultralytics.cfg")
