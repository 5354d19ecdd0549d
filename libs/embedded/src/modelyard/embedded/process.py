"""Run one server process: spawn it with a log file and a pidfile, wait for readiness, stop it by PID.

Each server runs in its own session (process group), so stopping signals the whole group. On Linux
the child also asks the kernel for PR_SET_PDEATHSIG, so it is signalled if its launcher dies without
calling stop(), for example when the launcher is SIGKILLed.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import IO

from modelyard.embedded.procfs import group_alive, parent_pid, pid_alive, process_matches, wait_until

LOG_TAIL_LINES = 40
_PR_SET_PDEATHSIG = 1
_POLL_S = 0.05

# Loaded before any fork, so the child only makes a plain libc call between fork and exec.
_prctl = ctypes.CDLL(None, use_errno=True).prctl if sys.platform == "linux" else None

# PR_SET_PDEATHSIG fires when the *thread* that forked the child exits, not the process. Servers
# are often started from short-lived threads (EmbeddedStack starts three in parallel), so every
# fork happens on one long-lived thread that ends only when the interpreter does.
_spawner_lock = threading.Lock()
_spawner: ThreadPoolExecutor | None = None


class ServerStartError(RuntimeError):
    """A server exited or did not become ready; the message ends with the tail of its log."""

    def __init__(self, message: str, log_tail: str) -> None:
        detail = f"\n--- last {LOG_TAIL_LINES} lines of its log ---\n{log_tail}" if log_tail else ""
        super().__init__(message + detail)
        self.log_tail = log_tail

    @property
    def port_clash(self) -> bool:
        """True when the log says a port was taken, so a retry on other ports may succeed."""
        return "address already in use" in self.log_tail.lower()


def _forget_spawner() -> None:
    """A forked child inherits the executor but not its thread: let it start its own."""
    global _spawner
    _spawner = None


os.register_at_fork(after_in_child=_forget_spawner)


def _spawner_thread() -> ThreadPoolExecutor:
    global _spawner
    with _spawner_lock:
        if _spawner is None:
            _spawner = ThreadPoolExecutor(max_workers=1, thread_name_prefix="modelyard-embedded-spawner")
        return _spawner


def _die_with_parent(sig: int) -> Callable[[], None] | None:
    prctl = _prctl
    if prctl is None:
        return None
    parent = os.getpid()

    def preexec() -> None:
        prctl(_PR_SET_PDEATHSIG, sig, 0, 0, 0)
        if os.getppid() != parent:  # the launcher died before prctl took effect
            os.kill(os.getpid(), sig)

    return preexec


def _signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, sig)


def kill_stale(pidfile: Path, expect: str | None = None, timeout: float = 10.0) -> bool:
    """Stop a server that an earlier, crashed run left behind, as recorded in `pidfile`.

    Only a live process whose /proc/PID/cmdline still contains the binary name (`expect`, else
    the name recorded in the pidfile) is signalled, so a recycled PID is never hit. The stale
    pidfile is removed. Returns True when a process was stopped. A server whose launcher is still
    alive is not stale: that raises ServerStartError instead of stopping another run's server.
    """
    try:
        fields = pidfile.read_text().split()
        pid = int(fields[0])
    except FileNotFoundError:
        return False
    except (ValueError, IndexError):
        pidfile.unlink(missing_ok=True)
        return False
    binary = expect or (fields[1] if len(fields) > 1 else None)
    stop_sig = int(fields[2]) if len(fields) > 2 and fields[2].isdigit() else signal.SIGTERM
    if binary is None or not process_matches(pid, binary):
        pidfile.unlink(missing_ok=True)
        return False
    launcher = int(fields[3]) if len(fields) > 3 and fields[3].isdigit() else None
    if launcher is not None and parent_pid(pid) == launcher and pid_alive(launcher):
        raise ServerStartError(
            f"{binary} (pid {pid}, see {pidfile}) is still running under its launcher (pid {launcher});"
            " stop that first",
            "",
        )
    try:
        leads_group = os.getpgid(pid) == pid
    except ProcessLookupError:
        leads_group = False

    def send(sig: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            if leads_group:
                os.killpg(pid, sig)
            else:
                os.kill(pid, sig)

    send(stop_sig)
    if not wait_until(lambda: not pid_alive(pid), timeout):
        send(signal.SIGKILL)
        wait_until(lambda: not pid_alive(pid), 5.0)
    if leads_group:
        _signal_group(pid, signal.SIGKILL)  # children it left behind in its group
    pidfile.unlink(missing_ok=True)
    return True


class ManagedProcess:
    """One server process, its log file and its pidfile."""

    def __init__(
        self,
        argv: Sequence[str | os.PathLike[str]],
        *,
        log_path: Path,
        pidfile: Path,
        name: str | None = None,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        stop_signal: int = signal.SIGTERM,
    ) -> None:
        self.argv = [os.fspath(arg) for arg in argv]
        self.name = name or Path(self.argv[0]).name
        self.log_path = log_path
        self.pidfile = pidfile
        self.env = dict(env) if env is not None else None
        self.cwd = cwd
        self.stop_signal = stop_signal
        self._popen: subprocess.Popen[bytes] | None = None
        self._log_offset = 0

    @property
    def pid(self) -> int | None:
        return self._popen.pid if self._popen is not None else None

    @property
    def running(self) -> bool:
        return self._popen is not None and self._popen.poll() is None

    @property
    def returncode(self) -> int | None:
        return self._popen.returncode if self._popen is not None else None

    def start(self) -> None:
        if self.running:
            raise RuntimeError(f"{self.name} is already running (pid {self.pid})")
        kill_stale(self.pidfile, self.name)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.pidfile.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self._log_offset = self.log_path.stat().st_size
            stamp = time.strftime("%Y-%m-%d %H:%M:%S")
            log.write(f"--- {stamp} starting: {shlex.join(self.argv)}\n".encode())
            log.flush()
            self._popen = _spawner_thread().submit(self._spawn, log).result()
        self.pidfile.write_text(f"{self._popen.pid}\n{self.name}\n{int(self.stop_signal)}\n{os.getpid()}\n")

    def _spawn(self, log: IO[bytes]) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            self.argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=self.env,
            cwd=self.cwd,
            start_new_session=True,
            preexec_fn=_die_with_parent(self.stop_signal),
        )

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        """The last `lines` lines this run wrote to the log."""
        try:
            with self.log_path.open("rb") as log:
                log.seek(self._log_offset)
                text = log.read().decode(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def wait_ready(self, check: Callable[[], bool], timeout: float, what: str) -> None:
        """Poll `check` until it returns True; raise ServerStartError if the process exits or time runs out."""
        deadline = time.monotonic() + timeout
        last_error: Exception | None = None
        while True:
            if not self.running:
                raise ServerStartError(
                    f"{what} exited with code {self.returncode} before it was ready", self.log_tail()
                )
            try:
                if check():
                    return
            except Exception as exc:  # noqa: BLE001 - any probe failure just means "not yet"
                last_error = exc
            if time.monotonic() >= deadline:
                hint = f" (last probe error: {last_error!r})" if last_error is not None else ""
                raise ServerStartError(f"{what} was not ready after {timeout:g}s{hint}", self.log_tail())
            time.sleep(_POLL_S)

    def stop(self, timeout: float = 10.0) -> None:
        """Signal the process group, wait up to `timeout`, then SIGKILL whatever is left of it."""
        popen = self._popen
        if popen is None:
            return
        pgid = popen.pid  # session leader, so its pid is the group id
        if popen.poll() is None:
            _signal_group(pgid, self.stop_signal)
            try:
                popen.wait(timeout)
            except subprocess.TimeoutExpired:
                _signal_group(pgid, signal.SIGKILL)
                popen.wait(10)
        _signal_group(pgid, signal.SIGKILL)  # children it left behind in its group
        wait_until(lambda: not group_alive(pgid), 5.0)
        self._popen = None
        self._remove_pidfile(pgid)

    def _remove_pidfile(self, pid: int) -> None:
        """Remove the pidfile unless a newer run of the same server has rewritten it meanwhile."""
        try:
            recorded = self.pidfile.read_text().split()[:1]
        except OSError:
            return
        if recorded == [str(pid)]:
            self.pidfile.unlink(missing_ok=True)
