import asyncio
import contextlib
import random
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from nats.aio.client import Client as NatsClient

from modelyard.contracts import streams
from modelyard.contracts.api.datasets import Task
from modelyard.contracts.envelope import decode
from modelyard.contracts.events import DatasetCreated
from modelyard.runtime import jetstream, outbox, tasks
from modelyard.runtime.db import open_pool
from modelyard.runtime.migrations import migrate, runtime_migrations
from modelyard.runtime.outbox import OutboxRelay

SCHEMA = "svc"


def _event() -> DatasetCreated:
    return DatasetCreated(
        correlation_id="c", org_id=uuid.uuid4(), actor="user:1", dataset_id=uuid.uuid4(), name="d", task=Task.DETECT
    )


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    async with open_pool(database_url, SCHEMA, max_size=5) as pool:
        await migrate(pool, SCHEMA, runtime_migrations())
        yield pool


@pytest.fixture
async def nc(nats_url: str) -> AsyncIterator[NatsClient]:
    client = await jetstream.connect(nats_url, "test")
    await jetstream.ensure_streams(client.jetstream(), [streams.DATASETS])
    yield client
    await client.close()


async def _stream_event_ids(nc: NatsClient) -> list[uuid.UUID]:
    js = nc.jetstream()
    total = (await js.stream_info("DATASETS")).state.messages
    sub = await js.pull_subscribe("dataset.>", durable=None)
    ids: list[uuid.UUID] = []
    while len(ids) < total:
        for msg in await sub.fetch(min(500, total - len(ids)), timeout=5):
            ids.append(decode(msg.data).event_id)
    await sub.unsubscribe()
    return ids


async def test_committed_events_are_published_and_rolled_back_ones_never(pool: Any, nc: NatsClient) -> None:
    kept, dropped = _event(), _event()
    async with pool.acquire() as conn, conn.transaction():
        await outbox.enqueue(conn, kept)
    with contextlib.suppress(RuntimeError):
        async with pool.acquire() as conn, conn.transaction():
            await outbox.enqueue(conn, dropped)
            raise RuntimeError("the state change failed")
    relay = OutboxRelay(pool, nc.jetstream(), SCHEMA)
    assert await relay.publish_batch() == 1
    assert await _stream_event_ids(nc) == [kept.event_id]
    assert await pool.fetchval("SELECT count(*) FROM outbox WHERE sent_at IS NULL") == 0


async def test_enqueue_outside_a_transaction_is_refused(pool: Any) -> None:
    async with pool.acquire() as conn:
        with pytest.raises(RuntimeError, match="inside the transaction"):
            await outbox.enqueue(conn, _event())


class _CrashAfterPublish(OutboxRelay):
    async def _published_not_marked(self) -> None:
        raise ConnectionResetError("relay died after publishing, before marking the rows sent")


async def test_crash_between_publish_and_mark_publishes_again_and_jetstream_drops_the_copy(
    pool: Any, nc: NatsClient
) -> None:
    events = [_event() for _ in range(3)]
    async with pool.acquire() as conn, conn.transaction():
        await outbox.enqueue(conn, *events)
    with pytest.raises(ConnectionResetError):
        await _CrashAfterPublish(pool, nc.jetstream(), SCHEMA).publish_batch()
    assert await pool.fetchval("SELECT count(*) FROM outbox WHERE sent_at IS NULL") == 3
    relay = OutboxRelay(pool, nc.jetstream(), SCHEMA)
    assert await relay.publish_batch() == 3
    assert relay.duplicates == 3
    assert await _stream_event_ids(nc) == [e.event_id for e in events]


async def test_relay_wakes_on_notify_without_waiting_for_its_poll(pool: Any, nc: NatsClient) -> None:
    relay = OutboxRelay(pool, nc.jetstream(), SCHEMA, poll_interval_s=60)
    task = asyncio.create_task(relay.run())
    await asyncio.sleep(0.3)
    event = _event()
    async with pool.acquire() as conn, conn.transaction():
        await outbox.enqueue(conn, event)
    for _ in range(100):
        if relay.published:
            break
        await asyncio.sleep(0.05)
    await tasks.stop(task)
    assert relay.published == 1


@pytest.mark.slow
async def test_thousand_events_arrive_exactly_once_while_the_relay_is_killed_at_random(
    pool: Any, nc: NatsClient, database_url: str, nats_url: str
) -> None:
    """1,000 events written in small transactions while a relay process is SIGKILLed and restarted at random
    moments: every event id is on the stream exactly once."""
    rng = random.Random(20261122)
    written: list[uuid.UUID] = []
    script = Path(__file__).with_name("relay_process.py")

    async def writer() -> None:
        while len(written) < 1000:
            batch = [_event() for _ in range(min(rng.randint(1, 25), 1000 - len(written)))]
            async with pool.acquire() as conn, conn.transaction():
                await outbox.enqueue(conn, *batch)
            written.extend(e.event_id for e in batch)
            await asyncio.sleep(rng.uniform(0, 0.04))

    def spawn() -> subprocess.Popen[bytes]:
        return subprocess.Popen([sys.executable, str(script), database_url, nats_url, SCHEMA])

    kills = 0
    write_task = asyncio.create_task(writer())
    while not write_task.done() or kills < 6:
        proc = spawn()
        await asyncio.sleep(rng.uniform(0.2, 1.2))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        kills += 1
    await write_task
    sent_by_killed_relays = await pool.fetchval("SELECT count(*) FROM outbox WHERE sent_at IS NOT NULL")
    final = spawn()  # one relay allowed to finish the backlog
    try:
        for _ in range(300):
            if await pool.fetchval("SELECT count(*) FROM outbox WHERE sent_at IS NULL") == 0:
                break
            await asyncio.sleep(0.1)
    finally:
        final.terminate()
        final.wait()

    ids = await _stream_event_ids(nc)
    assert kills >= 6
    assert sent_by_killed_relays > 0, "the killed relays should have made progress between kills"
    assert len(ids) == 1000
    assert sorted(ids) == sorted(written)
