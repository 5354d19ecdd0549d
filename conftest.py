"""Fixtures shared by every test folder. The servers themselves come from modelyard.embedded.pytest_plugin
(started once per session, on random loopback ports); these give each test its own database, NATS server and
bucket, so tests never see each other's data."""

from __future__ import annotations

import asyncio
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from modelyard.embedded.nats import NatsServer
from modelyard.embedded.postgres import PostgresServer
from modelyard.embedded.s3 import S3Server
from modelyard.runtime.storage import ObjectStore


@pytest.fixture
def database_url(postgres_server: PostgresServer) -> str:
    """A new, empty database for this test."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    postgres_server.create_database(name)
    return postgres_server.dsn_for(name)


@pytest.fixture
def nats_url(tmp_path: Path) -> Iterator[str]:
    """A fresh nats-server (JetStream on) for this test: streams start empty. Starts in well under a second."""
    with NatsServer(tmp_path / "nats") as server:
        yield server.url


@pytest.fixture
async def object_store(s3_server: S3Server) -> ObjectStore:
    store = ObjectStore(
        s3_server.endpoint,
        s3_server.access_key,
        s3_server.secret_key,
        bucket=f"t-{uuid.uuid4().hex[:12]}",
        region=s3_server.region,
        part_size=5 * 1024 * 1024,
    )
    await store.ensure_bucket()
    return store


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Ultralytics patches process-wide functions on import (PIL.Image.open among them), which changes how the
    dataset service, running inside this process in the end-to-end tests, reads images. Only child processes may
    import it; a test that imports it here fails the run."""
    import sys

    if "ultralytics" in sys.modules:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
        print("\nultralytics was imported into the test process; import it only in child processes")  # noqa: T201


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    """Before pytest-timeout fails a stuck test (its traceback shows only threads), print every asyncio task's stack:
    a hang in this suite is nearly always a task awaiting something that never comes."""
    timeout = float(item.config.getini("timeout") or 0)
    timer = threading.Timer(max(timeout - 15, 1), _print_asyncio_tasks, args=(item.nodeid,)) if timeout else None
    if timer:
        timer.daemon = True
        timer.start()
    try:
        return (yield)
    finally:
        if timer:
            timer.cancel()


def _print_asyncio_tasks(nodeid: str) -> None:
    out = sys.stderr
    print(f"\n=== {nodeid} is still running; its asyncio tasks: ===", file=out)
    # every loop's tasks (asyncio.all_tasks() needs to run inside the loop, and this runs in a timer thread)
    for task in list(asyncio.tasks._all_tasks):  # type: ignore[attr-defined]
        if not task.done():
            task.print_stack(file=out)
    out.flush()
