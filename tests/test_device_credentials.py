"""Device credentials against a real nats-server in operator mode (NATS decentralized JWT auth): a device's .creds
let it take its own deployments and publish its own reports, and nothing of any other device's."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import stat
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import nats
import nkeys  # type: ignore[import-untyped]
import pytest
from nats.aio.client import DEFAULT_INBOX_PREFIX
from nats.aio.client import Client as NatsClient
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError

from modelyard.contracts import streams, subjects
from modelyard.edge.identity import credentials, store_credentials
from modelyard.embedded.nats import NatsServer
from modelyard.runtime.jetstream import ensure_streams
from modelyard.runtime.natsauth import (
    NatsTrust,
    create_trust,
    device_consumer,
    device_inbox_prefix,
    device_permissions,
    parse_creds,
    user_creds,
    verify_jwt,
)

ORG = uuid.uuid4()
A, B = uuid.uuid4(), uuid.uuid4()
VIOLATION_WAIT_S = 5.0


@pytest.fixture(scope="module")
def trust() -> NatsTrust:
    return create_trust()


@pytest.fixture
def server(tmp_path: Path, trust: NatsTrust) -> Iterator[NatsServer]:
    with NatsServer(
        tmp_path / "nats",
        operator_jwt=trust.operator_jwt,
        system_account=trust.system_account_pub,
        resolver_preload=trust.resolver_preload,
    ) as server:
        yield server


def _write(tmp_path: Path, name: str, creds: str) -> str:
    path = tmp_path / f"{name}.creds"
    path.write_text(creds)
    return str(path)


@dataclass
class Conn:
    """A connection and the errors nats-py handed its error callback (permission violations arrive there)."""

    nc: NatsClient
    errors: list[Exception] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def on_error(self, exc: Exception) -> None:
        self.errors.append(exc)
        self.arrived.set()

    async def refused(self, action: str) -> None:
        """Wait for the server's "Permissions Violation for <action>" (nats-py lowercases it) and forget it.

        Waiting, not flush(): nats-py 2.16 writes a flush's PING straight to the socket, ahead of commands still
        queued for its flusher task, so the PONG can come back before the server saw the offending command."""
        wanted = f"permissions violation for {action}".lower()
        try:
            async with asyncio.timeout(VIOLATION_WAIT_S):
                while not any(wanted in str(e) for e in self.errors):
                    self.arrived.clear()
                    await self.arrived.wait()
        except TimeoutError:
            raise AssertionError(f"no {wanted!r} within {VIOLATION_WAIT_S} s; errors: {self.errors}") from None
        self.errors.clear()


async def _connect(server: NatsServer, creds_path: str, inbox_prefix: str | None = None) -> Conn:
    conn = Conn(NatsClient())
    await conn.nc.connect(
        server.url,
        user_credentials=creds_path,
        inbox_prefix=inbox_prefix if inbox_prefix is not None else DEFAULT_INBOX_PREFIX,
        error_cb=conn.on_error,
        allow_reconnect=False,
    )
    return conn


def _device_creds(trust: NatsTrust, device: uuid.UUID) -> str:
    pub_allow, sub_allow = device_permissions(ORG, device)
    return user_creds(
        trust.account_seed,
        f"device:{device}",
        pub_allow=pub_allow,
        sub_allow=sub_allow,
        expires_in=timedelta(hours=1),
    )


def _consumer(device: uuid.UUID) -> ConsumerConfig:
    """The device's consumer, created by name with its filter (nats-py then puts the filter in the API subject)."""
    return ConsumerConfig(
        name=device_consumer(device),
        durable_name=device_consumer(device),
        filter_subject=subjects.edge_deploy(ORG, device),
        ack_policy=AckPolicy.EXPLICIT,
        deliver_policy=DeliverPolicy.ALL,
        ack_wait=30,
        max_deliver=5,
    )


@dataclass
class Devices:
    admin: Conn
    a: Conn
    b: Conn


@pytest.fixture
async def devices(tmp_path: Path, server: NatsServer, trust: NatsTrust) -> AsyncIterator[Devices]:
    admin_creds = user_creds(trust.account_seed, "admin", pub_allow=None, sub_allow=None, expires_in=None)
    admin = await _connect(server, _write(tmp_path, "admin", admin_creds))
    await ensure_streams(admin.nc.jetstream(), [streams.EDGE])
    a = await _connect(server, _write(tmp_path, "a", _device_creds(trust, A)), device_inbox_prefix(A))
    b = await _connect(server, _write(tmp_path, "b", _device_creds(trust, B)), device_inbox_prefix(B))
    try:
        yield Devices(admin, a, b)
    finally:
        for conn in (a, b, admin):
            await conn.nc.close()


# -- the credentials themselves ------------------------------------------------------------------------------


def test_user_creds_is_a_creds_file_with_the_device_permissions(trust: NatsTrust) -> None:
    creds = _device_creds(trust, A)
    assert creds.startswith("-----BEGIN NATS USER JWT-----\n")
    jwt, seed = parse_creds(creds)
    user = nkeys.from_seed(seed.encode())
    prefix, _ = nkeys.decode_seed(seed.encode())
    assert prefix == nkeys.PREFIX_BYTE_USER

    claims = verify_jwt(jwt, trust.account_pub)  # signed by the account the server trusts
    assert claims["sub"] == user.public_key.decode()
    assert claims["name"] == f"device:{A}"
    assert claims["nats"]["type"] == "user"
    assert claims["nats"]["version"] == 2
    assert abs(claims["exp"] - (time.time() + 3600)) < 60
    consumer = f"edge-{A}"
    assert claims["nats"]["pub"] == {
        "allow": [
            f"edge.status.{A}",
            f"edge.heartbeat.{A}",
            f"$JS.API.CONSUMER.INFO.EDGE.{consumer}",
            f"$JS.API.CONSUMER.CREATE.EDGE.{consumer}.edge.deploy.{ORG}.{A}",
            f"$JS.API.CONSUMER.MSG.NEXT.EDGE.{consumer}",
            f"$JS.ACK.EDGE.{consumer}.>",
        ]
    }
    assert claims["nats"]["sub"] == {"allow": [f"_INBOX_{A}.>"]}
    assert "resp" not in claims["nats"]  # no implicit right to answer requests

    header_part = jwt.split(".")[0]
    header = json.loads(base64.urlsafe_b64decode(header_part + "=" * (-len(header_part) % 4)))
    assert header == {"typ": "JWT", "alg": "ed25519-nkey"}
    with pytest.raises(ValueError, match="not signed by"):
        verify_jwt(jwt, trust.system_account_pub)


def test_permissions_none_empty_and_seed_checks(trust: NatsTrust) -> None:
    admin = verify_jwt(
        parse_creds(user_creds(trust.account_seed, "admin", pub_allow=None, sub_allow=None, expires_in=None))[0],
        trust.account_pub,
    )
    assert "pub" not in admin["nats"] and "sub" not in admin["nats"] and "exp" not in admin
    mute = verify_jwt(
        parse_creds(user_creds(trust.account_seed, "mute", pub_allow=[], sub_allow=["x"], expires_in=None))[0],
        trust.account_pub,
    )
    assert mute["nats"]["pub"] == {"deny": [">"]}  # an empty allow list would mean "everything" to NATS
    with pytest.raises(ValueError, match="account"):
        user_creds(parse_creds(_device_creds(trust, A))[1], "x", pub_allow=None, sub_allow=None, expires_in=None)
    with pytest.raises(ValueError, match="subject token"):
        device_permissions(ORG, "x.>")
    with pytest.raises(ValueError, match="subject token"):
        device_permissions("*", A)


def test_identity_keeps_the_creds_private(tmp_path: Path) -> None:
    assert credentials(tmp_path) is None
    store_credentials(tmp_path, "secret")
    path = credentials(tmp_path)
    assert path is not None and path.read_text() == "secret"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    store_credentials(tmp_path, None)  # enrolled again without NATS auth: the old ones go
    assert credentials(tmp_path) is None


# -- against the server --------------------------------------------------------------------------------------


async def _refused(server: NatsServer, user_credentials: str | None = None) -> str:
    """The error a connection attempt ends with (closing the half-open client, which nats-py leaves open)."""
    errors: list[Exception] = []

    async def on_error(exc: Exception) -> None:
        errors.append(exc)

    nc = NatsClient()
    try:
        with pytest.raises(nats.errors.Error) as refused:
            await nc.connect(
                server.url,
                user_credentials=user_credentials,
                allow_reconnect=False,
                connect_timeout=2,
                error_cb=on_error,
            )
    finally:
        await nc.close()
    return str(refused.value)


async def test_server_refuses_clients_without_trusted_credentials(
    tmp_path: Path, server: NatsServer, trust: NatsTrust
) -> None:
    assert "Authorization Violation" in await _refused(server)
    stranger = create_trust()  # an account the server's operator never signed
    creds = user_creds(stranger.account_seed, "x", pub_allow=None, sub_allow=None, expires_in=None)
    assert "Authorization Violation" in await _refused(server, user_credentials=_write(tmp_path, "x", creds))


async def test_a_device_takes_its_own_deployments_and_reports(devices: Devices) -> None:
    admin_js, js = devices.admin.nc.jetstream(), devices.a.nc.jetstream()
    await admin_js.publish(subjects.edge_deploy(ORG, A), b"for A")
    await admin_js.publish(subjects.edge_deploy(ORG, B), b"for B")

    with pytest.raises(NotFoundError):  # the agent asks first, then creates its consumer
        await js.consumer_info(streams.EDGE.name, device_consumer(A))
    created = await js.add_consumer(streams.EDGE.name, _consumer(A))
    assert created.config.filter_subject == subjects.edge_deploy(ORG, A)
    assert (await js.consumer_info(streams.EDGE.name, device_consumer(A))).name == device_consumer(A)
    sub = await js.pull_subscribe_bind(device_consumer(A), streams.EDGE.name)
    [msg] = await sub.fetch(1, timeout=5)
    assert msg.data == b"for A"
    await msg.in_progress()
    await msg.ack_sync()
    with pytest.raises(nats.errors.TimeoutError):  # B's deployment is not on A's consumer
        await sub.fetch(1, timeout=0.5)
    await sub.unsubscribe()

    ack = await js.publish(subjects.edge_status(A), b"installed", timeout=5)
    assert ack.stream == streams.EDGE.name
    await js.publish(subjects.edge_heartbeat(A), b"alive", timeout=5)
    await devices.a.nc.flush()
    assert devices.a.errors == []


async def test_a_device_cannot_reach_another_devices_subjects(devices: Devices) -> None:
    a = devices.a
    await devices.b.nc.jetstream().add_consumer(streams.EDGE.name, _consumer(B))
    await devices.admin.nc.jetstream().publish(subjects.edge_deploy(ORG, B), b"for B")

    await a.nc.subscribe(subjects.edge_deploy(ORG, B))
    await a.refused(f'subscription to "{subjects.edge_deploy(ORG, B)}"')
    await a.nc.subscribe(subjects.EDGE_DEPLOY_ALL)
    await a.refused('subscription to "edge.deploy.>"')
    await a.nc.subscribe("_INBOX.>")
    await a.refused('subscription to "_INBOX.>"')
    await a.nc.subscribe(f"{device_inbox_prefix(B)}.>")
    await a.refused(f'subscription to "{device_inbox_prefix(B)}.>"')

    await a.nc.publish(subjects.edge_status(B), b"forged")
    await a.refused(f'publish to "{subjects.edge_status(B)}"')
    await a.nc.publish(subjects.edge_deploy(ORG, A), b"forged")
    await a.refused(f'publish to "{subjects.edge_deploy(ORG, A)}"')

    next_b = f"$JS.API.CONSUMER.MSG.NEXT.{streams.EDGE.name}.{device_consumer(B)}"
    with pytest.raises(nats.errors.TimeoutError):
        await a.nc.request(next_b, b'{"batch": 1}', timeout=1)
    await a.refused(f'publish to "{next_b}"')
    with pytest.raises(nats.errors.TimeoutError):
        await a.nc.jetstream().consumer_info(streams.EDGE.name, device_consumer(B), timeout=1)
    await a.refused(f'publish to "$JS.API.CONSUMER.INFO.EDGE.{device_consumer(B)}"')

    # B's deployment is still there for B, and nothing forged reached the stream
    sub = await devices.b.nc.jetstream().pull_subscribe_bind(device_consumer(B), streams.EDGE.name)
    [msg] = await sub.fetch(1, timeout=5)
    assert msg.data == b"for B"
    await msg.ack_sync()
    await sub.unsubscribe()
    with pytest.raises(NotFoundError):
        await devices.admin.nc.jetstream().get_last_msg(streams.EDGE.name, subjects.edge_status(B))


async def test_a_device_cannot_widen_its_own_consumer(devices: Devices) -> None:
    """A consumer's filter decides what it delivers, whatever its creator may subscribe to: a device allowed a create
    subject without its filter could create its consumer with filter edge.deploy.> and read every deployment."""
    a, js = devices.a, devices.a.nc.jetstream()
    await devices.admin.nc.jetstream().publish(subjects.edge_deploy(ORG, B), b"for B")
    stream = streams.EDGE.name

    # the filter named in the create subject must be the consumer's filter: the server refuses any other
    pinned = f"$JS.API.CONSUMER.CREATE.{stream}.{device_consumer(A)}.{subjects.edge_deploy(ORG, A)}"
    for config in (
        {"filter_subject": subjects.EDGE_DEPLOY_ALL},
        {},
        {"filter_subjects": [subjects.EDGE_DEPLOY_ALL]},
    ):
        request = {"stream_name": stream, "config": {"name": device_consumer(A), "ack_policy": "explicit"} | config}
        reply = json.loads((await a.nc.request(pinned, json.dumps(request).encode(), timeout=5)).data)
        assert reply["error"]["code"] == 400, reply

    # the create subjects without the filter are not allowed at all
    wide = ConsumerConfig(durable_name=device_consumer(A), filter_subject=subjects.EDGE_DEPLOY_ALL)
    with pytest.raises(nats.errors.TimeoutError):  # the form nats-py uses for durable_name without name
        await js.add_consumer(stream, wide, timeout=1)
    await a.refused(f'publish to "$JS.API.CONSUMER.DURABLE.CREATE.{stream}.{device_consumer(A)}"')
    with pytest.raises(nats.errors.TimeoutError):  # name with the wide filter: the subject names edge.deploy.>
        await js.add_consumer(stream, wide, name=device_consumer(A), timeout=1)
    await a.refused(f'publish to "$JS.API.CONSUMER.CREATE.{stream}.{device_consumer(A)}.edge.deploy.>"')
    with pytest.raises(NotFoundError):  # nothing was created
        await js.consumer_info(stream, device_consumer(A))


async def test_the_agents_connection_options_with_stored_creds(
    tmp_path: Path, server: NatsServer, trust: NatsTrust
) -> None:
    """What the agent passes nats.connect: the creds file from its state dir and its inbox prefix."""
    store_credentials(tmp_path / "state", _device_creds(trust, A))
    path = credentials(tmp_path / "state")
    assert path is not None
    conn = await _connect(server, str(path), device_inbox_prefix(A))
    try:
        js = conn.nc.jetstream()
        admin_creds = user_creds(trust.account_seed, "admin", pub_allow=None, sub_allow=None, expires_in=None)
        admin = await _connect(server, _write(tmp_path, "admin", admin_creds))
        try:
            await ensure_streams(admin.nc.jetstream(), [streams.EDGE])
        finally:
            await admin.nc.close()
        await js.publish(subjects.edge_heartbeat(A), b"alive", timeout=5)
        await conn.nc.flush()
        assert conn.errors == []
    finally:
        await conn.nc.close()


def test_operator_settings_need_the_operator(tmp_path: Path, trust: NatsTrust) -> None:
    with pytest.raises(ValueError, match="operator_jwt"):
        NatsServer(tmp_path, system_account=trust.system_account_pub, resolver_preload=trust.resolver_preload)
    with pytest.raises(ValueError, match="resolver_preload"):
        NatsServer(tmp_path, operator_jwt=trust.operator_jwt, system_account=trust.system_account_pub)
    assert not NatsServer(tmp_path).operator_mode
