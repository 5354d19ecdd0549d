"""Safe extraction: traversal, links, bombs and non-zips are refused before anything is written."""

from __future__ import annotations

import stat
import struct
import zipfile
from pathlib import Path

import pytest

from modelyard.dataset.imports import ImportFailed, ImportLimits
from modelyard.dataset.imports.archive import extract_zip

LIMITS = ImportLimits()


def _extract_failure(source: Path, root: Path, limits: ImportLimits = LIMITS) -> ImportFailed:
    root.mkdir(parents=True, exist_ok=True)
    with pytest.raises(ImportFailed) as caught:
        extract_zip(source, root, limits)
    return caught.value


def _zip_with(path: Path, *infos: tuple[zipfile.ZipInfo | str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for info, data in infos:
            archive.writestr(info, data)
    return path


def test_extracts_regular_files_and_skips_folders_and_macos_junk(tmp_path: Path) -> None:
    source = _zip_with(
        tmp_path / "ok.zip",
        ("data/", b""),
        ("data/a.txt", b"hello"),
        ("__MACOSX/data/._a.txt", b"junk"),
        ("data/.DS_Store", b"junk"),
    )
    (tmp_path / "out").mkdir()
    tree = extract_zip(source, tmp_path / "out", LIMITS)
    assert list(tree.files) == ["data/a.txt"]
    assert tree.path("data/a.txt").read_bytes() == b"hello"
    assert not (tmp_path / "out" / "__MACOSX").exists()


def test_parent_folder_entry_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    source = _zip_with(tmp_path / "slip.zip", ("ok.txt", b"fine"), ("../evil.txt", b"pwned"))
    failure = _extract_failure(source, tmp_path / "out")
    assert [problem.file for problem in failure.problems] == ["../evil.txt"]
    assert "leaves the archive folder" in failure.problems[0].message
    assert not (tmp_path / "evil.txt").exists()
    assert not (tmp_path / "out" / "ok.txt").exists()


def test_absolute_entry_is_refused(tmp_path: Path) -> None:
    source = _zip_with(tmp_path / "abs.zip", (zipfile.ZipInfo("/etc/evil.txt"), b"pwned"))
    failure = _extract_failure(source, tmp_path / "out")
    assert failure.problems[0].file == "/etc/evil.txt"
    assert "absolute" in failure.problems[0].message


def test_windows_style_parent_entry_is_refused(tmp_path: Path) -> None:
    source = _zip_with(tmp_path / "win.zip", ("..\\..\\evil.txt", b"pwned"))
    failure = _extract_failure(source, tmp_path / "out")
    assert "leaves the archive folder" in failure.problems[0].message


def test_symlink_entry_is_refused(tmp_path: Path) -> None:
    link = zipfile.ZipInfo("images/link.jpg")
    link.create_system = 3
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    source = _zip_with(tmp_path / "link.zip", (link, b"/etc/passwd"))
    failure = _extract_failure(source, tmp_path / "out")
    assert failure.problems[0].file == "images/link.jpg"
    assert "symbolic link" in failure.problems[0].message
    assert not (tmp_path / "out" / "images" / "link.jpg").exists()


def test_highly_compressed_entry_is_refused_as_a_bomb(tmp_path: Path) -> None:
    source = _zip_with(tmp_path / "bomb.zip", ("zeros.bin", bytes(8 * 1024 * 1024)))
    failure = _extract_failure(source, tmp_path / "out")
    messages = [problem.message for problem in failure.problems]
    assert any(problem.file == "zeros.bin" and "compresses" in problem.message for problem in failure.problems)
    assert any("the archive compresses" in message for message in messages)
    assert not (tmp_path / "out" / "zeros.bin").exists()


def test_more_entries_than_the_limit_are_refused(tmp_path: Path) -> None:
    source = _zip_with(tmp_path / "many.zip", *((f"f{i}.txt", b"x") for i in range(6)))
    failure = _extract_failure(source, tmp_path / "out", ImportLimits(max_entries=5))
    assert len(failure.problems) == 1
    assert "6 entries, more than the limit of 5" in failure.problems[0].message


def test_declared_total_over_the_limit_is_refused(tmp_path: Path) -> None:
    source = _zip_with(tmp_path / "big.zip", ("a.bin", b"a" * 600), ("b.bin", b"b" * 600))
    failure = _extract_failure(source, tmp_path / "out", ImportLimits(max_total_bytes=1000))
    assert "unpacks to 1200 bytes" in failure.problems[0].message


def test_entry_over_the_file_limit_is_refused(tmp_path: Path) -> None:
    source = _zip_with(tmp_path / "file.zip", ("a.bin", b"a" * 600))
    failure = _extract_failure(source, tmp_path / "out", ImportLimits(max_file_bytes=500))
    assert failure.problems[0].file == "a.bin"
    assert "more than the limit of 500" in failure.problems[0].message


def test_entry_that_inflates_past_its_declared_size_is_refused(tmp_path: Path) -> None:
    source = _zip_with(tmp_path / "liar.zip", ("a.txt", b"0123456789" * 100))
    data = bytearray(source.read_bytes())
    local = data.index(b"PK\x03\x04")
    central = data.index(b"PK\x01\x02")
    struct.pack_into("<I", data, local + 22, 10)  # uncompressed size in the local header
    struct.pack_into("<I", data, central + 24, 10)  # and in the central directory
    source.write_bytes(bytes(data))
    failure = _extract_failure(source, tmp_path / "out")
    assert failure.problems[0].file == "a.txt"
    assert "cannot be extracted" in failure.problems[0].message
    written = tmp_path / "out" / "a.txt"
    assert not written.exists() or written.stat().st_size <= 10


def test_file_that_is_not_a_zip_is_refused(tmp_path: Path) -> None:
    source = tmp_path / "upload.zip"
    source.write_text("name,value\n")
    failure = _extract_failure(source, tmp_path / "out")
    assert failure.problems[0].message == "the upload is not a zip archive"
