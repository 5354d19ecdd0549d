"""Each server, as the session fixtures start it, answers its own protocol on random loopback ports."""

from __future__ import annotations

import io
import json
import stat
import uuid
from pathlib import Path

import asyncpg
import nats
import pytest
from minio import Minio
from minio.error import S3Error

from modelyard.embedded.nats import NatsServer
from modelyard.embedded.postgres import PostgresServer
from modelyard.embedded.process import ServerStartError
from modelyard.embedded.s3 import S3Server


def _minio(s3: S3Server, secret_key: str | None = None) -> Minio:
    return Minio(
        s3.endpoint.removeprefix("http://"),
        access_key=s3.access_key,
        secret_key=secret_key or s3.secret_key,
        secure=False,
        region=s3.region,
    )


async def test_nats_accepts_clients_and_jetstream(nats_server: NatsServer) -> None:
    assert nats_server.url.startswith("nats://127.0.0.1:")
    nc = await nats.connect(nats_server.url)
    try:
        js = nc.jetstream()
        await js.add_stream(name="PING", subjects=["ping.>"])
        ack = await js.publish("ping.one", b"hello")
        assert ack.seq == 1
    finally:
        await nc.close()


async def test_postgres_answers_queries_and_creates_databases(postgres_server: PostgresServer) -> None:
    conn = await asyncpg.connect(postgres_server.dsn)
    try:
        assert await conn.fetchval("SELECT 1") == 1
    finally:
        await conn.close()
    name = f"db-{uuid.uuid4().hex[:8]}"
    dsn = postgres_server.create_database(name)
    assert dsn == postgres_server.dsn_for(name)
    assert postgres_server.create_database(name, exist_ok=True) == dsn
    conn = await asyncpg.connect(dsn)
    try:
        assert await conn.fetchval("SELECT current_database()") == name
    finally:
        await conn.close()


def test_postgres_refuses_to_create_an_existing_database_unless_told(postgres_server: PostgresServer) -> None:
    postgres_server.create_database("twice")
    with pytest.raises(RuntimeError, match="already exists"):
        postgres_server.create_database("twice")


def test_s3_stores_and_returns_objects(s3_server: S3Server) -> None:
    client = _minio(s3_server)
    client.make_bucket("roundtrip")
    client.put_object("roundtrip", "a/b.txt", io.BytesIO(b"payload"), 7)
    response = client.get_object("roundtrip", "a/b.txt")
    try:
        assert response.read() == b"payload"
    finally:
        response.close()
        response.release_conn()


def test_s3_holds_more_buckets_than_a_test_session_makes(tmp_path: Path) -> None:
    """Each bucket is a collection with its own volumes; with weed's default 1 GiB volumes the count was capped by
    free disk (57 on these machines) and later buckets refused every write with a 500."""
    with S3Server(tmp_path / "s3") as s3:
        client = _minio(s3)
        for index in range(80):
            bucket = f"many-{index}"
            client.make_bucket(bucket)
            client.put_object(bucket, "k", io.BytesIO(b"x" * 1000), 1000)
        assert client.get_object("many-79", "k").read() == b"x" * 1000


def test_s3_refuses_a_wrong_secret_key(s3_server: S3Server) -> None:
    with pytest.raises(S3Error) as caught:
        _minio(s3_server, secret_key="not-the-secret").list_buckets()
    assert caught.value.code == "SignatureDoesNotMatch"


def test_s3_secret_is_generated_once_and_kept_private(tmp_path: Path) -> None:
    first = S3Server(tmp_path)
    credentials = tmp_path / "credentials.json"
    assert stat.S_IMODE(credentials.stat().st_mode) == 0o600
    assert json.loads(credentials.read_text())["secret_key"] == first.secret_key
    assert S3Server(tmp_path).secret_key == first.secret_key
    assert S3Server(tmp_path, secret_key="given").secret_key == "given"


async def test_a_restarted_server_keeps_its_random_port_and_streams(tmp_path: Path) -> None:
    server = NatsServer(tmp_path).start()
    url = server.url
    nc = await nats.connect(url)
    await nc.jetstream().add_stream(name="AGAIN", subjects=["again.>"])
    await nc.close()
    server.stop()
    assert not server.running
    with server:
        assert server.url == url
        nc = await nats.connect(url)
        info = await nc.jetstream().stream_info("AGAIN")
        await nc.close()
    assert info.config.name == "AGAIN"


def test_a_second_server_refuses_a_data_directory_in_use(tmp_path: Path) -> None:
    with NatsServer(tmp_path) as first:
        with pytest.raises(ServerStartError, match="still running under its launcher"):
            NatsServer(tmp_path).start()
        assert first.running
