"""The offline preparation of the training child, without importing Ultralytics here."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from modelyard.trainer.frameworks import ultralytics_offline

ENV_KEYS = ("YOLO_OFFLINE", "YOLO_AUTOINSTALL", "YOLO_CONFIG_DIR", "MPLCONFIGDIR")


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ENV_KEYS:
        monkeypatch.delenv(key, raising=False)  # restored after the test


@pytest.mark.usefixtures("clean_env")
def test_ultralytics_gets_a_private_offline_config_dir_with_the_font_it_would_download(tmp_path: Path) -> None:
    config_dir = tmp_path / "cfg"
    font = ultralytics_offline.prepare_environment(config_dir)

    assert os.environ["YOLO_OFFLINE"] == "1"
    assert os.environ["YOLO_AUTOINSTALL"] == "0"
    assert os.environ["YOLO_CONFIG_DIR"] == str(config_dir)
    assert os.environ["MPLCONFIGDIR"].startswith(str(config_dir))
    if font is None:
        pytest.skip("no TrueType font on this machine (the child then relies on its check_font stand-in)")
    for name in ultralytics_offline.FONT_NAMES:
        placed = config_dir / "Ultralytics" / name
        assert placed.read_bytes() == font.read_bytes()
        assert placed.read_bytes()[:4] in {b"\x00\x01\x00\x00", b"true", b"OTTO"}  # a TrueType/OpenType file


def test_without_matplotlib_or_system_fonts_any_ttf_in_a_given_folder_will_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ultralytics_offline, "_matplotlib_font", lambda: None)
    monkeypatch.setattr(ultralytics_offline, "_SYSTEM_FONT_DIRS", ())
    assert ultralytics_offline.find_font() is None
    font = tmp_path / "fonts" / "sub" / "Some.ttf"
    font.parent.mkdir(parents=True)
    font.write_bytes(b"\x00\x01\x00\x00")
    assert ultralytics_offline.find_font(extra_dirs=[str(tmp_path / "fonts")]) == font
