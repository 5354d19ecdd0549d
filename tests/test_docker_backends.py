"""The Docker backend: NATS, PostgreSQL and MinIO in containers (testcontainers).

The tests marked `docker` start the three containers and run a short smoke through Modelyard's own code: JetStream
publish and consume on the trainers' work queue, one service's migrations, and S3 put/get through ObjectStore.
Where no Docker engine answers they are skipped with the reason. The unmarked tests run everywhere: they check the
probe that decides the skip (fast, and right both ways), that `--backend docker` refuses to start without an
engine, and that the containers run the images docker-compose.yml runs."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from modelyard.contracts import streams, subjects
from modelyard.embedded import containers
from modelyard.embedded.containers import MinioContainer, PostgresContainer
from modelyard.embedded.ports import free_port
from modelyard.runtime import jetstream
from modelyard.runtime.db import open_pool
from modelyard.runtime.migrations import load_migrations, migrate, runtime_migrations
from modelyard.runtime.storage import ObjectStore
from modelyard.scheduler.settings import SCHEMA as SCHEDULER_SCHEMA

ROOT = Path(__file__).parents[1]


def test_the_containers_run_the_images_compose_runs() -> None:
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    assert services["nats"]["image"] == containers.NATS_IMAGE
    assert services["postgres"]["image"] == containers.POSTGRES_IMAGE
    assert services["minio"]["image"] == containers.MINIO_IMAGE
    assert "-js" in services["nats"]["command"]


def test_the_probe_names_a_missing_socket_at_once(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    host = f"unix://{tmp_path}/docker.sock"
    monkeypatch.setattr(containers, "docker_host", lambda: host)
    started = time.monotonic()
    reason = containers.docker_unavailable()
    assert time.monotonic() - started < 0.5
    assert reason is not None and reason.startswith(f"no Docker engine: {host}: ")
    assert "No such file or directory" in reason


def test_the_probe_names_a_refused_tcp_engine_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    host = f"tcp://127.0.0.1:{free_port()}"
    monkeypatch.setattr(containers, "docker_host", lambda: host)
    started = time.monotonic()
    reason = containers.docker_unavailable()
    assert time.monotonic() - started < 0.5
    assert reason is not None and reason.startswith(f"no Docker engine: {host}: ")
    assert "refused" in reason


def test_the_probe_reads_docker_host(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///run/elsewhere/docker.sock")
    assert containers.docker_host() == "unix:///run/elsewhere/docker.sock"


@pytest.fixture
def fake_engine(tmp_path: Path) -> Iterator[tuple[str, list[bytes]]]:
    """A Unix socket that answers each connection with the next canned reply, or stays silent on b""."""
    path = tmp_path / "engine.sock"
    replies: list[bytes] = []
    stop = threading.Event()
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen()
    server.settimeout(0.05)

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            with conn:
                conn.recv(1024)
                reply = replies.pop(0) if replies else b""
                if reply:
                    conn.sendall(reply)
                else:
                    stop.wait(5)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"unix://{path}", replies
    finally:
        stop.set()
        thread.join(5)
        server.close()


def test_the_probe_accepts_an_engine_that_answers_its_ping(
    monkeypatch: pytest.MonkeyPatch, fake_engine: tuple[str, list[bytes]]
) -> None:
    host, replies = fake_engine
    monkeypatch.setattr(containers, "docker_host", lambda: host)
    replies.append(b"HTTP/1.1 200 OK\r\nApi-Version: 1.47\r\nContent-Length: 2\r\n\r\nOK")
    assert containers.docker_unavailable() is None
    replies.append(b"HTTP/1.1 404 Not Found\r\n\r\n")
    assert containers.docker_unavailable() == f"no Docker engine: {host}: GET /_ping answered 'HTTP/1.1 404 Not Found'"


def test_the_probe_gives_up_on_a_silent_engine_after_its_timeout(
    monkeypatch: pytest.MonkeyPatch, fake_engine: tuple[str, list[bytes]]
) -> None:
    host, _ = fake_engine
    monkeypatch.setattr(containers, "docker_host", lambda: host)
    started = time.monotonic()
    reason = containers.docker_unavailable(timeout=0.2)
    assert time.monotonic() - started < 1.0
    assert reason == f"no Docker engine: {host}: timed out"


def test_the_docker_backend_refuses_to_start_without_an_engine(tmp_path: Path) -> None:
    """Asked for containers where there is no engine, the run stops with the reason instead of skipping everything.
    (A bare pytest, for speed: only the plugins the config needs, on libs/embedded: it has no conftest of its own)."""
    env = {
        **os.environ,
        "MODELYARD_TEST_BACKEND": "docker",
        "DOCKER_HOST": f"unix://{tmp_path}/docker.sock",
        "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
    }
    plugins = ["-p", "no:cacheprovider", "-p", "pytest_asyncio.plugin", "-p", "pytest_timeout"]
    done = subprocess.run(
        [sys.executable, "-m", "pytest", *plugins, "--collect-only", "-q", "libs/embedded"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == pytest.ExitCode.USAGE_ERROR, done.stdout + done.stderr
    assert f"MODELYARD_TEST_BACKEND=docker): no Docker engine: unix://{tmp_path}/docker.sock: " in done.stderr


@pytest.mark.docker
async def test_jetstream_carries_a_dispatch_through_the_trainers_consumer(docker_nats_url: str) -> None:
    nc = await jetstream.connect(docker_nats_url, name="docker-smoke")
    try:
        js = nc.jetstream()
        assert set(await jetstream.ensure_streams(js, streams.ALL_STREAMS)) == {s.name for s in streams.ALL_STREAMS}
        spec = streams.dispatch_consumer("cpu", "normal", lease_s=30)
        await jetstream.ensure_consumer(js, spec)
        ack = await js.publish(subjects.dispatch("cpu", "normal"), b"job-1", headers={"Nats-Msg-Id": "job-1"})
        assert ack.stream == streams.DISPATCH.name
        sub = await js.pull_subscribe_bind(spec.durable, spec.stream)
        (msg,) = await sub.fetch(1, timeout=5)
        assert msg.data == b"job-1"
        await msg.ack_sync()
        info = await js.consumer_info(spec.stream, spec.durable)
        assert (info.num_pending, info.num_ack_pending) == (0, 0)
        assert (await js.stream_info(streams.DISPATCH.name)).state.messages == 0  # a work queue drops what is acked
    finally:
        await nc.close()


@pytest.mark.docker
async def test_a_service_migrates_its_schema_in_the_postgres_container(docker_postgres: PostgresContainer) -> None:
    dsn = docker_postgres.create_database(f"t_{uuid.uuid4().hex[:12]}")
    wanted = runtime_migrations() + load_migrations("modelyard.scheduler.migrations")
    async with open_pool(dsn, SCHEDULER_SCHEMA) as pool:
        assert await migrate(pool, SCHEDULER_SCHEMA, wanted) == wanted
        assert await migrate(pool, SCHEDULER_SCHEMA, wanted) == []
        recorded = await pool.fetchval(f"SELECT count(*) FROM {SCHEDULER_SCHEMA}.schema_migrations")
        assert recorded == len(wanted)
        assert (await pool.fetchval("SHOW server_version")).split(".")[0] == containers.POSTGRES_IMAGE.split(":")[1]


@pytest.mark.docker
async def test_object_store_puts_and_gets_in_the_minio_container(docker_minio: MinioContainer) -> None:
    store = ObjectStore(
        docker_minio.endpoint,
        docker_minio.access_key,
        docker_minio.secret_key,
        bucket=f"t-{uuid.uuid4().hex[:12]}",
        region=docker_minio.region,
    )
    await store.ensure_bucket()
    stored = await store.put("smoke/hello.txt", b"hello from minio", content_type="text/plain")
    assert stored.size == len(b"hello from minio")
    assert await store.get("smoke/hello.txt") == b"hello from minio"
    assert [o.key for o in await store.list_objects("smoke/")] == ["smoke/hello.txt"]
    await store.delete("smoke/hello.txt")
    assert not await store.exists("smoke/hello.txt")
