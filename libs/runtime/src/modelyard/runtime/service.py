"""What every service process does at start and stop, in one place: connect NATS, declare the streams, open the
PostgreSQL pool and migrate the service schema, start the faststream broker and the outbox relay; and on SIGTERM or
SIGINT, stop them in reverse order."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import asyncpg
import nats
from faststream.nats import NatsBroker, NatsCredentials
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext

from modelyard.contracts import subjects
from modelyard.contracts.streams import ALL_STREAMS
from modelyard.runtime import jetstream, metrics, tasks
from modelyard.runtime.consumer import consuming
from modelyard.runtime.db import open_pool
from modelyard.runtime.logging import get_logger
from modelyard.runtime.migrations import Migration, migrate, runtime_migrations
from modelyard.runtime.natsauth import service_inbox_prefix
from modelyard.runtime.outbox import OutboxRelay

log = get_logger(__name__)


@dataclass
class Resources:
    nc: NatsClient
    js: JetStreamContext
    broker: NatsBroker
    pool: asyncpg.Pool
    relay: OutboxRelay


class NatsSettings(Protocol):
    """What `connect_nats` reads (a ServiceSettings has it all)."""

    @property
    def service_name(self) -> str: ...
    @property
    def nats_url(self) -> str: ...
    @property
    def nats_creds_path(self) -> Path | None: ...


class DatabaseServiceSettings(NatsSettings, Protocol):
    """What `service_resources` reads: a ServiceSettings mixed with DatabaseSettings."""

    @property
    def database_url(self) -> str: ...
    @property
    def database_pool_max(self) -> int: ...
    @property
    def metrics_port(self) -> int: ...
    @property
    def stream_replicas(self) -> int: ...


def nats_auth(settings: NatsSettings) -> dict[str, Any]:
    """The nats-py connect options that authenticate a service: with a .creds file, the file and the service's own
    inbox prefix (the only one its credentials may subscribe to, see runtime.natsauth.service_permissions); without
    one, nothing (NATS without auth)."""
    if settings.nats_creds_path is None:
        return {}
    return {
        "user_credentials": str(settings.nats_creds_path),
        "inbox_prefix": service_inbox_prefix(settings.service_name),
    }


def broker_auth(settings: NatsSettings) -> dict[str, Any]:
    """`nats_auth` for faststream's NatsBroker, which takes the credentials as `security`."""
    options = nats_auth(settings)
    if "user_credentials" in options:
        options["security"] = NatsCredentials(options.pop("user_credentials"))
    return options


async def connect_nats(settings: NatsSettings, name: str, *, connect_timeout: float = 5.0) -> NatsClient:
    """A service's NATS connection: jetstream.connect's options (reconnect forever once up, errors logged) plus the
    service's credentials when it has any."""

    async def on_error(exc: Exception) -> None:
        log.warning("nats.error", error=str(exc))

    return await nats.connect(
        settings.nats_url,
        name=name,
        connect_timeout=connect_timeout,
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.5,
        error_cb=on_error,
        **nats_auth(settings),
    )


@asynccontextmanager
async def service_resources(
    settings: DatabaseServiceSettings,
    *,
    schema: str,
    migrations: list[Migration],
    register: Callable[[NatsBroker, asyncpg.Pool], None],
) -> AsyncIterator[Resources]:
    """`register(broker, pool)` adds the service's subscribers before the broker starts."""
    name, nats_url = settings.service_name, settings.nats_url
    nc = await connect_nats(settings, f"modelyard-{name}")
    try:
        js = nc.jetstream()
        await jetstream.ensure_streams(js, ALL_STREAMS, settings.stream_replicas)
        # one connection more than asked: the outbox relay holds one for LISTEN
        async with open_pool(settings.database_url, schema, max_size=settings.database_pool_max + 1) as pool:
            await migrate(pool, schema, runtime_migrations() + migrations)
            broker = NatsBroker(nats_url, logger=None, name=f"modelyard-{name}-broker", **broker_auth(settings))
            register(broker, pool)
            _answer_health(broker, name)
            relay = OutboxRelay(pool, js, schema)
            relay_task = asyncio.create_task(relay.run(), name=f"{name}-outbox-relay")
            lag_task = asyncio.create_task(metrics.sample_forever(relay.sample_lag), name=f"{name}-outbox-lag")
            metrics.serve(settings.metrics_port)
            await broker.start()
            try:
                async with consuming(broker, nc):
                    log.info("service.started", service=name)
                    yield Resources(nc, js, broker, pool, relay)
            finally:
                await _bounded(broker.stop(), "broker.stop")
                await tasks.stop(lag_task)
                await tasks.stop(relay_task)
    finally:
        await _bounded(nc.close(), "nats.close")
        log.info("service.stopped", service=name)


async def _bounded(step: Awaitable[None], what: str, timeout_s: float = 10.0) -> None:
    """A shutdown step that cannot hold the process forever (a peer gone mid-flush, say)."""
    try:
        await asyncio.wait_for(step, timeout_s)
    except TimeoutError:
        log.warning("service.stop_step_timed_out", step=what, timeout_s=timeout_s)


def _answer_health(broker: NatsBroker, name: str) -> None:
    """`svc.<name>.health` answers once the broker runs: the dev stack and operators wait on it."""

    @broker.subscriber(subjects.service_health(name), title=f"{name} health")
    async def health() -> dict[str, str]:
        return {"service": name, "status": "ok"}


async def run_until_signalled(lifespan: AbstractAsyncContextManager[Any]) -> None:
    """Enter the lifespan, wait for SIGTERM or SIGINT, leave it cleanly."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with lifespan:
        await stop.wait()
