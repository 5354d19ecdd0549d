"""NATS, PostgreSQL and MinIO in Docker containers (testcontainers), giving what the embedded servers give.

The test suite uses these where a Docker engine exists: tests marked `docker` always, and every test under
`pytest --backend docker` (or MODELYARD_TEST_BACKEND=docker), where the root conftest's `nats_url`, `database_url`
and `s3_server` come from here instead of the pip-packaged servers. The images are the ones docker-compose.yml runs.

testcontainers (and the docker SDK under it) is imported only when a container starts, and `docker_unavailable()`
asks the engine with a raw socket and a short timeout, so a machine without Docker pays a few milliseconds.
"""

from __future__ import annotations

import abc
import os
import re
import socket
from types import TracebackType
from typing import TYPE_CHECKING, Protocol, Self
from urllib.parse import quote, urlsplit

if TYPE_CHECKING:
    from testcontainers.core.container import DockerContainer

NATS_IMAGE = "nats:2.11"
POSTGRES_IMAGE = "postgres:17"
MINIO_IMAGE = "minio/minio:latest"
PROBE_TIMEOUT_S = 2.0
DEFAULT_DOCKER_HOST = "unix:///var/run/docker.sock"
REGION = "us-east-1"  # MinIO's region when MINIO_REGION is unset
_DATABASE_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,63}$")


class S3Endpoint(Protocol):
    """What tests need of an S3 server: the embedded S3Server and MinioContainer both have it."""

    @property
    def endpoint(self) -> str: ...
    @property
    def access_key(self) -> str: ...
    @property
    def secret_key(self) -> str: ...
    @property
    def region(self) -> str: ...


def docker_host() -> str:
    """The engine testcontainers will use: ~/.testcontainers.properties `tc.host`, DOCKER_HOST, the current docker
    context, else the default socket."""
    try:
        from testcontainers.core.docker_client import get_docker_host
    except ImportError:
        return os.environ.get("DOCKER_HOST") or DEFAULT_DOCKER_HOST
    return get_docker_host() or DEFAULT_DOCKER_HOST


def docker_unavailable(timeout: float = PROBE_TIMEOUT_S) -> str | None:
    """None when a Docker engine answers `GET /_ping` within `timeout` seconds and testcontainers is installed;
    otherwise the reason, starting "no Docker engine: " or "testcontainers is not installed"."""
    host = docker_host()
    try:
        _ping(host, timeout)
    except (OSError, ValueError) as error:
        return f"no Docker engine: {host}: {error}"
    try:
        import testcontainers  # noqa: F401
    except ImportError as error:
        return f"testcontainers is not installed ({error}); run `make install`"
    return None


def _ping(url: str, timeout: float) -> None:
    """Raise OSError unless the Docker API at `url` answers its ping with 200. ssh:// and npipe:// hosts are not
    probed (testcontainers reports what goes wrong there); over TLS a TCP connection is all that is checked."""
    parts = urlsplit(url)
    if parts.scheme == "unix":
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        try:
            sock.connect(parts.path)
        except OSError:
            sock.close()
            raise
    elif parts.scheme in ("tcp", "http", "https"):
        if not parts.hostname:
            raise ValueError(f"no host in {url!r}")
        sock = socket.create_connection((parts.hostname, parts.port or 2375), timeout=timeout)
    else:
        return
    with sock:
        if parts.scheme == "https" or os.environ.get("DOCKER_TLS_VERIFY"):
            return
        sock.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
        status_line = sock.recv(256).split(b"\r\n", 1)[0]
    fields = status_line.split()
    if len(fields) < 2 or not fields[0].startswith(b"HTTP/") or fields[1] != b"200":
        raise OSError(f"GET /_ping answered {status_line.decode(errors='replace')!r}")


class _Container(abc.ABC):
    """One started container; a context manager. Subclasses say how to build it and what it offers."""

    def __init__(self, image: str) -> None:
        self.image = image
        self._container: DockerContainer | None = None
        self._addresses: dict[int, tuple[str, int]] = {}

    @abc.abstractmethod
    def _build(self) -> DockerContainer:
        """The container to start (image, command, ports, wait strategy)."""

    def start(self) -> Self:
        container = self._build()
        container.start()  # waits with the container's wait strategy; testcontainers' Ryuk removes it if we die
        self._container = container
        return self

    def stop(self) -> None:
        container, self._container = self._container, None
        self._addresses.clear()
        if container is not None:
            container.stop()

    @property
    def container(self) -> DockerContainer:
        if self._container is None:
            raise RuntimeError(f"{type(self).__name__} is not started")
        return self._container

    def _address(self, port: int) -> tuple[str, int]:
        """Where the host reaches the container's `port` (asked of the engine once)."""
        if port not in self._addresses:
            container = self.container
            self._addresses[port] = (container.get_container_host_ip(), int(container.get_exposed_port(port)))
        return self._addresses[port]

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()


class NatsContainer(_Container):
    """nats-server with JetStream (`-js`) and the monitoring port, as docker-compose.yml runs it."""

    client_port = 4222
    monitor_port = 8222

    def __init__(self, image: str = NATS_IMAGE) -> None:
        super().__init__(image)

    def _build(self) -> DockerContainer:
        from testcontainers.core.container import DockerContainer
        from testcontainers.core.wait_strategies import LogMessageWaitStrategy

        return (
            DockerContainer(self.image)
            .with_command(["-js", "-m", str(self.monitor_port)])
            .with_exposed_ports(self.client_port, self.monitor_port)
            .waiting_for(LogMessageWaitStrategy("Server is ready"))
        )

    @property
    def url(self) -> str:
        host, port = self._address(self.client_port)
        return f"nats://{host}:{port}"


class PostgresContainer(_Container):
    """PostgreSQL with fsync off (tests only), a password user, and databases made on demand like PostgresServer's."""

    port = 5432
    user = "modelyard"
    password = "modelyard"  # noqa: S105 - a throw-away test container, as in docker-compose.yml

    def __init__(self, image: str = POSTGRES_IMAGE) -> None:
        super().__init__(image)

    def _build(self) -> DockerContainer:
        from testcontainers.core.container import DockerContainer
        from testcontainers.core.wait_strategies import ExecWaitStrategy

        # During initdb the image's server listens on a Unix socket only: a query over TCP succeeds once it is up
        # for good.
        ready = ExecWaitStrategy([*self._psql(), "-h", "127.0.0.1", "-c", "SELECT 1"])
        return (
            DockerContainer(self.image)
            .with_env("POSTGRES_USER", self.user)
            .with_env("POSTGRES_PASSWORD", self.password)
            .with_env("POSTGRES_DB", "postgres")
            .with_command(["postgres", "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"])
            .with_exposed_ports(self.port)
            .waiting_for(ready)
        )

    def _psql(self) -> list[str]:
        """psql inside the container, as our user, on the maintenance database."""
        return ["env", f"PGPASSWORD={self.password}", "psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-U", self.user,
                "-d", "postgres"]  # fmt: skip

    @property
    def dsn(self) -> str:
        return self.dsn_for("postgres")

    def dsn_for(self, dbname: str) -> str:
        host, port = self._address(self.port)
        return f"postgresql://{self.user}:{self.password}@{host}:{port}/{quote(dbname, safe='')}"

    def create_database(self, name: str, *, exist_ok: bool = False) -> str:
        """Create database `name` (letters, digits, `_.-`) with psql inside the container; return its DSN."""
        if not _DATABASE_NAME.match(name):
            raise ValueError(f"database name {name!r} is not one of ours")
        sql = f'CREATE DATABASE "{name}"'
        code, output = self.container.exec([*self._psql(), "-c", sql])
        text = output.decode(errors="replace")
        if code != 0 and not (exist_ok and "already exists" in text):
            raise RuntimeError(f"psql failed with code {code}: {text.strip()}")
        return self.dsn_for(name)


class MinioContainer(_Container):
    """MinIO with one root identity, as docker-compose.yml runs it; an S3Endpoint once started."""

    port = 9000
    access_key = "modelyard"
    secret_key = "modelyard-secret"  # noqa: S105 - throw-away test container; MinIO wants 8 characters or more
    region = REGION

    def __init__(self, image: str = MINIO_IMAGE) -> None:
        super().__init__(image)

    def _build(self) -> DockerContainer:
        from testcontainers.core.container import DockerContainer
        from testcontainers.core.wait_strategies import HttpWaitStrategy

        return (
            DockerContainer(self.image)
            .with_env("MINIO_ROOT_USER", self.access_key)
            .with_env("MINIO_ROOT_PASSWORD", self.secret_key)
            .with_command(["server", "/data", "--address", f":{self.port}"])
            .with_exposed_ports(self.port)
            .waiting_for(HttpWaitStrategy(self.port, "/minio/health/ready").for_status_code(200))
        )

    @property
    def endpoint(self) -> str:
        host, port = self._address(self.port)
        return f"http://{host}:{port}"
