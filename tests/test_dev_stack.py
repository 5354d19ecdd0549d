"""`modelyard dev up` as a user runs it: start (with one enrolled edge agent), create a dataset, stop with SIGTERM,
start again on the same data; the dataset and the device are still there and no process outlives a stop."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import psutil
import pytest

CLI = Path(sys.executable).with_name("modelyard")


def _up(root: Path) -> tuple[subprocess.Popen[bytes], dict[str, Any]]:
    stack_file = root / "stack.json"
    log = root.parent / "dev-up.log"
    with log.open("ab") as out:
        proc = subprocess.Popen([CLI, "dev", "up", "--root", str(root), "--port", "0"], stderr=out)
    deadline = time.monotonic() + 90
    while not stack_file.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            proc.wait()
            raise AssertionError(f"dev up did not start: {log.read_text()}")
        time.sleep(0.2)
    return proc, json.loads(stack_file.read_text())


def _down(proc: subprocess.Popen[bytes], stack: dict[str, Any]) -> None:
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(60) == 0
    left = [name for name, pid in stack["pids"].items() if psutil.pid_exists(pid) and _not_zombie(pid)]
    assert left == [], f"processes left behind: {left}"


def _not_zombie(pid: int) -> bool:
    try:
        return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return False


def _call(stack: dict[str, Any], token: str, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    request = urllib.request.Request(  # noqa: S310 - loopback
        stack["gateway"] + path,
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback
        return json.loads(response.read())


@pytest.mark.slow
def test_dev_stack_keeps_data_across_restarts_and_leaves_no_process(tmp_path: Path) -> None:
    root = tmp_path / ".modelyard"
    proc, stack = _up(root)
    try:
        token_file = root / "admin-token"
        assert oct(token_file.stat().st_mode & 0o777) == "0o600"
        token = token_file.read_text().strip()
        assert set(stack["pids"]) >= {"nats", "postgres", "s3", "gateway", "dataset", "registry", "dev-edge-1"}
        agent = stack["edge_agents"]["dev-edge-1"]
        with urllib.request.urlopen(f"{agent}/healthz", timeout=10) as response:  # noqa: S310 - loopback
            assert json.loads(response.read())["device"] == "dev-edge-1"
        (device,) = _call(stack, token, "GET", "/api/v1/devices")["devices"]
        dataset = _call(stack, token, "POST", "/api/v1/datasets", {"name": "kept", "task": "segment"})
        tail = subprocess.run(
            [CLI, "events", "tail", "dataset.>", "--from-start", "--limit", "1", "--json"],
            env=os.environ | {"MODELYARD_NATS_URL": stack["nats"]},
            capture_output=True,
            timeout=30,
            check=True,
        )
        event = json.loads(tail.stdout.decode().strip())
        assert event["event_type"] == "DatasetCreated" and event["dataset_id"] == dataset["id"]
    finally:
        _down(proc, stack)
    assert not (root / "stack.json").exists()

    proc, stack = _up(root)
    try:
        assert (root / "admin-token").read_text().strip() == token  # same key, same data
        again = _call(stack, token, "GET", f"/api/v1/datasets/{dataset['id']}")
        assert again == dataset
        devices = _call(stack, token, "GET", "/api/v1/devices")["devices"]
        assert [d["id"] for d in devices] == [device["id"]]  # the agent came back as itself, not enrolled again
        assert stack["edge_agents"]["dev-edge-1"] == agent
    finally:
        _down(proc, stack)
