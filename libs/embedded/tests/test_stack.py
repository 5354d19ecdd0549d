"""The three servers together: side by side, across restarts, and stopped without leftovers."""

from __future__ import annotations

import io
import socket
from pathlib import Path

import asyncpg
import nats
import psutil
import pytest
from minio import Minio

from modelyard.embedded.process import ServerStartError
from modelyard.embedded.stack import EmbeddedStack


def _minio(stack: EmbeddedStack) -> Minio:
    s3 = stack.s3
    return Minio(
        s3.endpoint.removeprefix("http://"),
        access_key=s3.access_key,
        secret_key=s3.secret_key,
        secure=False,
        region=s3.region,
    )


def _processes(stack: EmbeddedStack) -> list[psutil.Process]:
    """The server processes of a running stack, with all their children."""
    tree: list[psutil.Process] = []
    for pid in (stack.nats.pid, stack.postgres.pid, stack.s3.pid):
        assert pid is not None
        leader = psutil.Process(pid)
        tree += [leader, *leader.children(recursive=True)]
    return tree


def _alive(processes: list[psutil.Process]) -> list[psutil.Process]:
    alive = []
    for process in processes:
        try:
            if process.is_running() and process.status() != psutil.STATUS_ZOMBIE:
                alive.append(process)
        except psutil.NoSuchProcess:
            pass
    return alive


def _ports(stack: EmbeddedStack) -> set[int]:
    return {
        stack.nats.port,
        stack.nats.monitor_port,
        stack.postgres.port,
        stack.s3.port,
        *stack.s3.internal_ports.values(),
    }


async def test_two_stacks_run_side_by_side(embedded_stack: EmbeddedStack, tmp_path: Path) -> None:
    with EmbeddedStack(tmp_path, fsync=False) as other:
        assert not _ports(embedded_stack) & _ports(other)
        for stack in (embedded_stack, other):
            nc = await nats.connect(stack.nats.url)
            await nc.close()
            conn = await asyncpg.connect(stack.postgres.dsn)
            await conn.close()
            assert _minio(stack).list_buckets() is not None
        _minio(other).make_bucket("only-in-other")
        assert not _minio(embedded_stack).bucket_exists("only-in-other")


async def test_data_survives_stop_and_start_on_the_same_directory(tmp_path: Path) -> None:
    with EmbeddedStack(tmp_path, fsync=False) as stack:
        nc = await nats.connect(stack.nats.url)
        js = nc.jetstream()
        await js.add_stream(name="KEPT", subjects=["kept.>"])
        await js.publish("kept.one", b"event")
        await nc.close()
        conn = await asyncpg.connect(stack.postgres.dsn)
        await conn.execute("CREATE TABLE kept (id int PRIMARY KEY, note text)")
        await conn.execute("INSERT INTO kept VALUES (1, 'row')")
        await conn.close()
        s3 = _minio(stack)
        s3.make_bucket("kept")
        s3.put_object("kept", "object.bin", io.BytesIO(b"bytes"), 5)

    with EmbeddedStack(tmp_path, fsync=False) as stack:  # same directory, so the same data
        nc = await nats.connect(stack.nats.url)
        info = await nc.jetstream().stream_info("KEPT")
        await nc.close()
        assert info.state.messages == 1
        conn = await asyncpg.connect(stack.postgres.dsn)
        assert await conn.fetchval("SELECT note FROM kept WHERE id = 1") == "row"
        await conn.close()
        response = _minio(stack).get_object("kept", "object.bin")
        assert response.read() == b"bytes"
        response.close()
        response.release_conn()


async def test_stop_leaves_no_server_process_behind(tmp_path: Path) -> None:
    stack = EmbeddedStack(tmp_path, fsync=False).start()
    conn = await asyncpg.connect(stack.postgres.dsn)  # so that postgres has a backend child too
    processes = _processes(stack)
    assert len(processes) > 3
    try:
        stack.stop()
    finally:
        await conn.close(timeout=1)
    assert _alive(processes) == []
    assert not stack.nats.running
    assert not stack.postgres.running
    assert not stack.s3.running
    children = [child for child in psutil.Process().children(recursive=True) if child in processes]
    assert children == []


def test_a_failed_start_stops_the_servers_that_did_start(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        stack = EmbeddedStack(tmp_path, fsync=False, ports={"postgres": taken.getsockname()[1]})
        with pytest.raises(ServerStartError, match=r"(?i)address already in use"):
            stack.start()
    assert not stack.nats.running
    assert not stack.s3.running
    assert not stack.postgres.running


def test_unknown_port_names_are_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown port keys"):
        EmbeddedStack(tmp_path, ports={"redis": 6379})
