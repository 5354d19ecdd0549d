"""Builders for uploads: small images made with Pillow, zips made with zipfile, all under tmp_path."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest
from PIL import Image

ZipBuilder = Callable[[Mapping[str, bytes | str]], Path]


def image_bytes(kind: str = "PNG", size: tuple[int, int] = (12, 8)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 30, 60)).save(buffer, format=kind)
    return buffer.getvalue()


@pytest.fixture
def png() -> bytes:
    return image_bytes("PNG")


@pytest.fixture
def jpeg() -> bytes:
    return image_bytes("JPEG", (16, 10))


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    return tmp_path / "work"


@pytest.fixture
def make_zip(tmp_path: Path) -> ZipBuilder:
    """A zip at tmp_path/upload-N.zip holding the given entries (str entries are written as UTF-8)."""
    count = 0

    def build(entries: Mapping[str, bytes | str]) -> Path:
        nonlocal count
        count += 1
        path = tmp_path / f"upload-{count}.zip"
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for name, data in entries.items():
                archive.writestr(name, data)
        return path

    return build
