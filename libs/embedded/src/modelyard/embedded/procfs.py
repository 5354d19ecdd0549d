"""What /proc says about a process or a process group (Linux; elsewhere, signal 0 is all we have)."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable
from pathlib import Path

_PROC = Path("/proc")


def _stat_fields(stat_path: Path) -> list[str]:
    """Fields of /proc/PID/stat after the command name: state, ppid, pgrp, ..."""
    return stat_path.read_text().rpartition(")")[2].split()


def _is_zombie(pid: int) -> bool:
    try:
        return _stat_fields(_PROC / str(pid) / "stat")[0] == "Z"
    except (OSError, IndexError):
        return False


def pid_alive(pid: int) -> bool:
    """True if `pid` exists and is not a zombie. Reaps it first if it is our own exited child."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not _is_zombie(pid)


def parent_pid(pid: int) -> int | None:
    try:
        return int(_stat_fields(_PROC / str(pid) / "stat")[1])
    except (OSError, IndexError, ValueError):
        return None


def process_matches(pid: int, binary: str) -> bool:
    """True if `pid` is alive and its /proc/PID/cmdline contains `binary` (so it is not a recycled PID)."""
    if not pid_alive(pid):
        return False
    try:
        cmdline = (_PROC / str(pid) / "cmdline").read_bytes()
    except OSError:
        return False
    return binary.encode() in cmdline


def group_alive(pgid: int) -> bool:
    """True while a process of group `pgid` runs; zombies count as gone (whoever adopted them reaps them)."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    if not _PROC.is_dir():
        return True
    for entry in _PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            state, _ppid, group = _stat_fields(entry / "stat")[:3]
        except (OSError, ValueError):
            continue
        if group == str(pgid) and state != "Z":
            return True
    return False


def wait_until(condition: Callable[[], bool], timeout: float, poll: float = 0.05) -> bool:
    """Poll `condition` until it holds or `timeout` passes; return whether it held."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() >= deadline:
            return False
        time.sleep(poll)
    return True
