from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest

from modelyard.embedded.process import ManagedProcess, ServerStartError, kill_stale

SLEEP = shutil.which("sleep") or "/bin/sleep"


def _gone(pid: int) -> bool:
    try:
        status: str = psutil.Process(pid).status()
    except psutil.NoSuchProcess:
        return True
    return status == "zombie"


def _wait_gone(pid: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while not _gone(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _sleeper(tmp_path: Path, script: str = "sleep 60") -> ManagedProcess:
    return ManagedProcess(["sh", "-c", script], name="sh", log_path=tmp_path / "p.log", pidfile=tmp_path / "p.pid")


def test_wait_ready_reports_exit_code_and_log_tail_when_the_process_dies(tmp_path: Path) -> None:
    proc = _sleeper(tmp_path, "for i in $(seq 1 60); do echo line $i; done; exit 3")
    proc.start()
    with pytest.raises(ServerStartError) as caught:
        proc.wait_ready(lambda: False, timeout=10, what="the sleeper")
    message = str(caught.value)
    assert "the sleeper exited with code 3" in message
    assert "line 60" in message
    assert "line 20\n" not in message  # only the last 40 lines
    proc.stop()


def test_wait_ready_times_out_with_the_last_probe_error(tmp_path: Path) -> None:
    proc = _sleeper(tmp_path)
    proc.start()

    def probe() -> bool:
        raise ConnectionRefusedError("nobody home")

    with pytest.raises(ServerStartError, match=r"not ready after 0\.3s.*nobody home"):
        proc.wait_ready(probe, timeout=0.3, what="the sleeper")
    proc.stop()


def test_stop_kills_the_whole_process_group_and_removes_the_pidfile(tmp_path: Path) -> None:
    proc = _sleeper(tmp_path, "sleep 60 & sleep 60 & trap '' TERM; wait")  # ignores SIGTERM
    proc.start()
    assert proc.pid is not None
    assert proc.pidfile.read_text().split()[:2] == [str(proc.pid), "sh"]
    time.sleep(0.2)
    tree = [psutil.Process(proc.pid), *psutil.Process(proc.pid).children(recursive=True)]
    assert len(tree) == 3
    proc.stop(timeout=0.5)
    assert all(_gone(p.pid) for p in tree)
    assert not proc.pidfile.exists()
    assert not proc.running


def _left_by_a_crashed_run(pidfile: Path) -> subprocess.Popen[bytes]:
    """A server whose launcher is gone: only the pidfile tells where it is."""
    stale = subprocess.Popen([SLEEP, "60"], start_new_session=True)
    pidfile.write_text(f"{stale.pid}\nsleep\n")
    return stale


def test_kill_stale_stops_a_server_left_by_a_crashed_run(tmp_path: Path) -> None:
    stale = _left_by_a_crashed_run(tmp_path / "p.pid")
    assert kill_stale(tmp_path / "p.pid")
    assert stale.wait(5) is not None
    assert not (tmp_path / "p.pid").exists()


def test_kill_stale_leaves_a_recycled_pid_alone(tmp_path: Path) -> None:
    pidfile = tmp_path / "nats-server.pid"
    pidfile.write_text(f"{psutil.Process().pid}\nnats-server\n")  # our pid, but we are not nats-server
    assert not kill_stale(pidfile)
    assert not pidfile.exists()


def test_starting_again_first_stops_the_process_left_in_the_pidfile(tmp_path: Path) -> None:
    stale = _left_by_a_crashed_run(tmp_path / "p.pid")
    proc = ManagedProcess(["sleep", "60"], log_path=tmp_path / "p.log", pidfile=tmp_path / "p.pid")
    proc.start()
    assert stale.wait(5) is not None
    assert proc.running
    proc.stop()


def test_server_dies_with_its_launcher_even_when_started_from_a_thread(tmp_path: Path) -> None:
    launcher = textwrap.dedent(f"""
        import threading, time
        from pathlib import Path
        from modelyard.embedded.nats import NatsServer

        server = NatsServer(Path({str(tmp_path)!r}))
        starter = threading.Thread(target=server.start)
        starter.start()
        starter.join()
        print(server.pid, flush=True)
        time.sleep(60)
    """)
    child = subprocess.Popen([sys.executable, "-c", launcher], stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    try:
        server_pid = int(child.stdout.readline())
        time.sleep(0.3)
        assert not _gone(server_pid), "the server must outlive the thread that started it"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
        child.stdout.close()
    assert _wait_gone(server_pid)
