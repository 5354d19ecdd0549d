"""Fixtures shared by every test folder. The servers themselves come from modelyard.embedded.pytest_plugin
(started once per session, on random loopback ports); these give each test its own database, NATS server and
bucket, so tests never see each other's data.

`pytest --backend docker` (or MODELYARD_TEST_BACKEND=docker) takes `nats_url`, `database_url` and `s3_server` from
Docker containers instead (testcontainers, modelyard.embedded.containers: the nats, postgres and minio images of
docker-compose.yml), so the same tests run against them. Tests marked `docker` always use containers, and are
skipped, with the reason, where no Docker engine answers."""

from __future__ import annotations

import asyncio
import os
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from modelyard.embedded.containers import (
    MinioContainer,
    NatsContainer,
    PostgresContainer,
    S3Endpoint,
    docker_unavailable,
)
from modelyard.embedded.nats import NatsServer
from modelyard.embedded.stack import EmbeddedStack
from modelyard.runtime.storage import ObjectStore

BACKENDS = ("embedded", "docker")
BACKEND_ENV = "MODELYARD_TEST_BACKEND"
_DOCKER_REASON = pytest.StashKey[str | None]()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--backend",
        choices=BACKENDS,
        default=None,
        help=f"where nats_url, database_url and s3_server come from: embedded (servers from pip packages, the "
        f"default) or docker (testcontainers); defaults to ${BACKEND_ENV}",
    )


def _backend(config: pytest.Config) -> str:
    backend = config.getoption("--backend") or os.environ.get(BACKEND_ENV) or "embedded"
    if backend not in BACKENDS:
        raise pytest.UsageError(f"{BACKEND_ENV}={backend!r}: expected one of {', '.join(BACKENDS)}")
    return str(backend)


def _docker_reason(config: pytest.Config) -> str | None:
    """Why containers cannot run here (None: they can); the engine is asked once per session, with a short timeout."""
    if _DOCKER_REASON not in config.stash:
        config.stash[_DOCKER_REASON] = docker_unavailable()
    return config.stash[_DOCKER_REASON]


def pytest_configure(config: pytest.Config) -> None:
    if _backend(config) == "docker" and (reason := _docker_reason(config)):
        raise pytest.UsageError(f"the docker test backend (--backend docker or {BACKEND_ENV}=docker): {reason}")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    docker_items = [item for item in items if item.get_closest_marker("docker")]
    if docker_items and (reason := _docker_reason(config)):
        for item in docker_items:
            item.add_marker(pytest.mark.skip(reason=reason))


def _skip_without_docker(config: pytest.Config) -> None:
    if reason := _docker_reason(config):
        pytest.skip(reason)


@pytest.fixture(scope="session")
def docker_postgres(pytestconfig: pytest.Config) -> Iterator[PostgresContainer]:
    """PostgreSQL in a container for the session (started on first use)."""
    _skip_without_docker(pytestconfig)
    with PostgresContainer() as server:
        yield server


@pytest.fixture(scope="session")
def docker_minio(pytestconfig: pytest.Config) -> Iterator[MinioContainer]:
    """MinIO in a container for the session (started on first use)."""
    _skip_without_docker(pytestconfig)
    with MinioContainer() as server:
        yield server


@pytest.fixture
def docker_nats_url(pytestconfig: pytest.Config) -> Iterator[str]:
    """A fresh NATS container (JetStream on) for this test, as `nats_url` gives a fresh nats-server."""
    _skip_without_docker(pytestconfig)
    with NatsContainer() as server:
        yield server.url


@pytest.fixture(scope="session")
def s3_server(request: pytest.FixtureRequest) -> S3Endpoint:
    """The session's S3 endpoint: weed mini from the embedded stack, or MinIO under --backend docker."""
    if _backend(request.config) == "docker":
        minio: MinioContainer = request.getfixturevalue("docker_minio")
        return minio
    stack: EmbeddedStack = request.getfixturevalue("_embedded_stack_unstarted")
    return stack.s3.start()


@pytest.fixture
def database_url(request: pytest.FixtureRequest) -> str:
    """A new, empty database for this test."""
    fixture = "docker_postgres" if _backend(request.config) == "docker" else "postgres_server"
    server = request.getfixturevalue(fixture)
    name = f"t_{uuid.uuid4().hex[:12]}"
    server.create_database(name)
    return str(server.dsn_for(name))


@pytest.fixture
def nats_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh nats-server (JetStream on) for this test: streams start empty. Starts in well under a second
    (a container per test under --backend docker)."""
    if _backend(request.config) == "docker":
        yield request.getfixturevalue("docker_nats_url")
        return
    with NatsServer(tmp_path / "nats") as server:
        yield server.url


@pytest.fixture
async def object_store(s3_server: S3Endpoint) -> ObjectStore:
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
