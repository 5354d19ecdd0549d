"""Safe extraction of an uploaded zip: nothing lands outside the work folder, and no bomb gets inflated."""

from __future__ import annotations

import stat
import zipfile
import zlib
from pathlib import Path

from modelyard.dataset.imports.limits import ImportLimits
from modelyard.dataset.imports.problems import ImportFailed, ImportProblem, ProblemLog
from modelyard.dataset.imports.tree import UploadTree, normalise

CHUNK_BYTES = 1024 * 1024
JUNK_NAMES = frozenset({".DS_Store", "Thumbs.db", "desktop.ini"})
JUNK_FOLDERS = frozenset({"__MACOSX"})
READ_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError, OSError, ValueError)


def is_junk(name: str) -> bool:
    """Files that archivers add on their own (macOS resource forks and Finder files, Windows thumbnails)."""
    parts = name.split("/")
    return any(part in JUNK_FOLDERS for part in parts[:-1]) or parts[-1] in JUNK_NAMES or parts[-1].startswith("._")


def is_zip(path: Path) -> bool:
    try:
        return zipfile.is_zipfile(path)
    except OSError:
        return False


def _is_symlink(info: zipfile.ZipInfo) -> bool:
    return stat.S_ISLNK(info.external_attr >> 16)


def _entry_name(raw: str) -> str | None:
    """The entry's safe relative name, or None when it is absolute or climbs out with '..'."""
    if "\x00" in raw or ".." in raw.replace("\\", "/").split("/"):
        return None
    return normalise(raw)


def _reason(error: BaseException) -> str:
    """An error's reason without local paths (OSError messages name files under the work folder)."""
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return str(error) or type(error).__name__


def _ratio(uncompressed: int, compressed: int) -> float:
    return uncompressed / max(compressed, 1)


def _plan(
    archive: zipfile.ZipFile, source: Path, upload: str, root: Path, limits: ImportLimits
) -> list[tuple[zipfile.ZipInfo, str]]:
    """Check every entry before anything is written; raise with every problem found."""
    infos = archive.infolist()
    if len(infos) > limits.max_entries:
        message = f"the archive has {len(infos)} entries, more than the limit of {limits.max_entries}"
        raise ImportFailed([ImportProblem(upload, None, message)])
    log = ProblemLog()
    plan: list[tuple[zipfile.ZipInfo, str]] = []
    seen: set[str] = set()
    resolved_root = root.resolve()
    for info in infos:
        name = _entry_name(info.filename)
        if name is None:
            log.add(info.filename, None, "entry path is absolute or leaves the archive folder ('..'); refused")
            continue
        if not (resolved_root / name).resolve().is_relative_to(resolved_root):
            log.add(info.filename, None, "entry path resolves outside the extraction folder; refused")
            continue
        if info.is_dir() or not name:
            continue
        if _is_symlink(info):
            log.add(info.filename, None, "entry is a symbolic link; links are refused")
            continue
        if is_junk(name):
            continue
        if info.flag_bits & 0x1:
            log.add(name, None, "entry is encrypted; upload an archive without a password")
            continue
        if name in seen:
            log.add(name, None, "the archive holds this path more than once")
            continue
        seen.add(name)
        if info.file_size > limits.max_file_bytes:
            log.add(name, None, f"entry is {info.file_size} bytes, more than the limit of {limits.max_file_bytes}")
        ratio = _ratio(info.file_size, info.compress_size)
        if info.file_size > limits.min_ratio_check_bytes and ratio > limits.max_ratio:
            log.add(name, None, f"entry compresses {ratio:.0f}:1, more than the limit of {limits.max_ratio:.0f}:1")
        plan.append((info, name))
    total = sum(info.file_size for info, _ in plan)
    if total > limits.max_total_bytes:
        log.add(upload, None, f"the archive unpacks to {total} bytes, more than the limit of {limits.max_total_bytes}")
    whole = _ratio(total, source.stat().st_size)
    if total > limits.min_ratio_check_bytes and whole > limits.max_ratio:
        log.add(upload, None, f"the archive compresses {whole:.0f}:1, more than the limit of {limits.max_ratio:.0f}:1")
    log.raise_if_any()
    return plan


def _write(archive: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path, name: str) -> None:
    """Copy one entry, stopping as soon as it inflates past the size it declared."""
    target.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    with archive.open(info) as entry, target.open("xb") as out:
        while chunk := entry.read(CHUNK_BYTES):
            written += len(chunk)
            if written > info.file_size:
                message = f"entry inflates past its declared size of {info.file_size} bytes; refused"
                raise ImportFailed([ImportProblem(name, None, message)])
            out.write(chunk)


def extract_zip(source: Path, root: Path, limits: ImportLimits, upload: str | None = None) -> UploadTree:
    """Extract `source` into `root` (which must exist); raise ImportFailed with every problem found.

    `upload` names the archive in problems about it as a whole (the file's own name by default).
    """
    upload = upload or source.name
    if not is_zip(source):
        raise ImportFailed([ImportProblem(upload, None, "the upload is not a zip archive")])
    try:
        with zipfile.ZipFile(source) as archive:
            plan = _plan(archive, source, upload, root, limits)
            log = ProblemLog()
            for info, name in plan:
                try:
                    _write(archive, info, root / name, name)
                except READ_ERRORS as error:
                    log.add(name, None, f"entry cannot be extracted ({_reason(error)})")
            log.raise_if_any()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError) as error:
        raise ImportFailed([ImportProblem(upload, None, f"the zip archive is damaged ({_reason(error)})")]) from error
    return UploadTree.of(root, [name for _, name in plan])
