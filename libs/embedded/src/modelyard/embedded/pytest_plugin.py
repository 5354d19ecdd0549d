"""Session-scoped pytest fixtures for the embedded servers (load with `-p modelyard.embedded.pytest_plugin`).

Nothing starts until a test asks: `nats_server`, `postgres_server` and `s3_server` start only their own
server, `embedded_stack` starts all three. They share one stack under the session's temporary directory,
on random ports with fsync off, and whatever was started is stopped when the session ends.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from modelyard.embedded.nats import NatsServer
from modelyard.embedded.postgres import PostgresServer
from modelyard.embedded.s3 import S3Server
from modelyard.embedded.stack import EmbeddedStack


@pytest.fixture(scope="session")
def _embedded_stack_unstarted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedStack]:
    stack = EmbeddedStack(tmp_path_factory.mktemp("embedded"), fsync=False)
    try:
        yield stack
    finally:
        stack.stop()


@pytest.fixture(scope="session")
def embedded_stack(_embedded_stack_unstarted: EmbeddedStack) -> EmbeddedStack:
    return _embedded_stack_unstarted.start()


@pytest.fixture(scope="session")
def nats_server(_embedded_stack_unstarted: EmbeddedStack) -> NatsServer:
    return _embedded_stack_unstarted.nats.start()


@pytest.fixture(scope="session")
def postgres_server(_embedded_stack_unstarted: EmbeddedStack) -> PostgresServer:
    return _embedded_stack_unstarted.postgres.start()


@pytest.fixture(scope="session")
def s3_server(_embedded_stack_unstarted: EmbeddedStack) -> S3Server:
    return _embedded_stack_unstarted.s3.start()
