"""Fixtures shared by every test folder. The servers themselves come from modelyard.embedded.pytest_plugin
(started once per session, on random loopback ports); these give each test its own database, NATS server and
bucket, so tests never see each other's data."""

from __future__ import annotations

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
