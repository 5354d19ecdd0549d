"""What every service process does at start and stop, in one place: connect NATS, declare the streams, open the
PostgreSQL pool and migrate the service schema, start the faststream broker and the outbox relay; and on SIGTERM or
SIGINT, stop them in reverse order."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any

import asyncpg
from faststream.nats import NatsBroker
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext

from modelyard.contracts.streams import ALL_STREAMS
from modelyard.runtime import jetstream
from modelyard.runtime.db import open_pool
from modelyard.runtime.logging import get_logger
from modelyard.runtime.migrations import Migration, migrate, runtime_migrations
from modelyard.runtime.outbox import OutboxRelay

log = get_logger(__name__)


@dataclass
class Resources:
    nc: NatsClient
    js: JetStreamContext
    broker: NatsBroker
    pool: asyncpg.Pool
    relay: OutboxRelay


@asynccontextmanager
async def service_resources(
    *,
    name: str,
    nats_url: str,
    database_url: str,
    schema: str,
    migrations: list[Migration],
    register: Callable[[NatsBroker, asyncpg.Pool], None],
    pool_max: int = 10,
) -> AsyncIterator[Resources]:
    """`register(broker, pool)` adds the service's subscribers before the broker starts."""
    nc = await jetstream.connect(nats_url, name=f"modelyard-{name}")
    try:
        js = nc.jetstream()
        await jetstream.ensure_streams(js, ALL_STREAMS)
        async with open_pool(database_url, schema, max_size=pool_max + 1) as pool:
            await migrate(pool, schema, runtime_migrations() + migrations)
            broker = NatsBroker(nats_url, logger=None, name=f"modelyard-{name}-broker")
            register(broker, pool)
            relay = OutboxRelay(pool, js, schema)
            relay_task = asyncio.create_task(relay.run(), name=f"{name}-outbox-relay")
            await broker.start()
            log.info("service.started", service=name)
            try:
                yield Resources(nc, js, broker, pool, relay)
            finally:
                await broker.stop()
                relay_task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await relay_task
    finally:
        await nc.close()
        log.info("service.stopped", service=name)


async def run_until_signalled(lifespan: AbstractAsyncContextManager[Any]) -> None:
    """Enter the lifespan, wait for SIGTERM or SIGINT, leave it cleanly."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with lifespan:
        await stop.wait()
