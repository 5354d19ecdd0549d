import asyncio
import uuid

from faststream.nats import JStream, NatsBroker, NatsMessage, PullSub

from modelyard.contracts import streams
from modelyard.contracts.api.datasets import Task
from modelyard.contracts.events import DatasetCreated
from modelyard.runtime import inbox, jetstream
from modelyard.runtime.db import open_pool
from modelyard.runtime.migrations import Migration, migrate, runtime_migrations

COUNTER = Migration("service", 1, "counter", "CREATE TABLE counter (n int NOT NULL); INSERT INTO counter VALUES (0)")


async def test_claim_is_true_once_per_consumer_and_event(database_url: str) -> None:
    async with open_pool(database_url, "svc") as pool:
        await migrate(pool, "svc", runtime_migrations())
        event_id = uuid.uuid4()
        async with pool.acquire() as conn, conn.transaction():
            assert await inbox.claim(conn, "a", event_id)
        async with pool.acquire() as conn, conn.transaction():
            assert not await inbox.claim(conn, "a", event_id)
            assert await inbox.claim(conn, "b", event_id)  # another consumer has its own record


async def test_an_event_delivered_twice_has_one_effect(database_url: str, nats_url: str) -> None:
    """The handler commits its effect, then 'crashes' before acking; JetStream redelivers; the second delivery
    finds the event in the inbox and only acks."""
    deliveries: list[int] = []
    done = asyncio.Event()
    async with open_pool(database_url, "svc") as pool:
        await migrate(pool, "svc", [*runtime_migrations(), COUNTER])
        broker = NatsBroker(nats_url, logger=None)
        stream = JStream(streams.DATASETS.name, declare=False)

        @broker.subscriber("dataset.>", stream=stream, durable="counter", pull_sub=PullSub(batch_size=10, timeout=0.2))
        async def count(event: DatasetCreated, msg: NatsMessage) -> None:
            deliveries.append(msg.raw_message.metadata.num_delivered)
            async with pool.acquire() as conn, conn.transaction():
                if await inbox.claim(conn, "counter", event.event_id):
                    await conn.execute("UPDATE counter SET n = n + 1")
            if len(deliveries) == 1:
                await msg.nack()  # as if the process died after commit and before ack
                return
            await msg.ack()
            done.set()

        nc = await jetstream.connect(nats_url, "test")
        await jetstream.ensure_streams(nc.jetstream(), [streams.DATASETS])
        event = DatasetCreated(
            correlation_id="c", org_id=uuid.uuid4(), actor="user:1", dataset_id=uuid.uuid4(), name="d", task=Task.DETECT
        )
        await nc.jetstream().publish(event.nats_subject, event.encode(), headers=event.headers())
        await broker.start()
        try:
            await asyncio.wait_for(done.wait(), 15)
        finally:
            await broker.stop()
            await nc.close()
        assert deliveries == [1, 2]
        assert await pool.fetchval("SELECT n FROM counter") == 1
