"""Fixtures for the preset tests. Ultralytics is imported only here, lazily, offline and with its settings file in a
temporary folder, so the tests neither reach the network nor write to the user's config directory."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

# Until the scheduler is installed into the venv (make install), import it from its source folder.
if importlib.util.find_spec("modelyard.scheduler") is None:  # pragma: no cover - depends on the venv
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))


class UltralyticsProbe:
    """The parts of `ultralytics.cfg` and `ultralytics.nn.tasks` the tests use, answered by a child process."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self._process = process
        self.DEFAULT_CFG_DICT: dict[str, Any] = self._ask("defaults", None)

    def _ask(self, op: str, arg: Any) -> Any:
        assert self._process.stdin is not None
        assert self._process.stdout is not None
        self._process.stdin.write(json.dumps({"op": op, "arg": arg}) + "\n")
        self._process.stdin.flush()
        reply = json.loads(self._process.stdout.readline())
        if "error" in reply:
            raise AssertionError(f"ultralytics refused {op}({arg!r}): {reply['error']}")
        return reply["ok"]

    def get_cfg(self, overrides: dict[str, Any]) -> SimpleNamespace:
        return SimpleNamespace(**self._ask("get_cfg", overrides))

    def parse_key_value_pair(self, word: str) -> tuple[str, Any]:
        key, value = self._ask("parse", word)
        return key, value

    def model_info(self, name: str) -> dict[str, Any]:
        info: dict[str, Any] = self._ask("model", name)
        return info


@pytest.fixture(scope="session")
def ultralytics_cfg(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UltralyticsProbe]:
    """Ultralytics, offline and with its settings in a temporary folder, in a child process (see the probe)."""
    env = os.environ | {
        "YOLO_OFFLINE": "1",
        "YOLO_AUTOINSTALL": "0",
        "YOLO_CONFIG_DIR": str(tmp_path_factory.mktemp("ultralytics-config")),
    }
    probe = Path(__file__).with_name("ultralytics_probe.py")
    with subprocess.Popen(
        [sys.executable, str(probe)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env
    ) as process:
        try:
            yield UltralyticsProbe(process)
        finally:
            assert process.stdin is not None
            process.stdin.close()
            process.wait(30)
