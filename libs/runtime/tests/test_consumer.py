import asyncio
import dataclasses
import random
import uuid
from collections.abc import AsyncIterator

import pytest
from faststream.nats import NatsBroker
from nats.aio.client import Client as NatsClient

from modelyard.contracts import streams
from modelyard.contracts.api.datasets import Task
from modelyard.contracts.envelope import Event
from modelyard.contracts.events import DatasetCreated
from modelyard.contracts.streams import ConsumerSpec
from modelyard.runtime import jetstream
from modelyard.runtime.consumer import DLQ_REASON_HEADER, RetryLater, consuming, event_consumer

SPEC = ConsumerSpec("DATASETS", "test-consumer", "dataset.>", ack_wait_s=5, max_deliver=3, backoff_s=(0.05, 0.1))


def _event(name: str = "d") -> DatasetCreated:
    return DatasetCreated(
        correlation_id="c", org_id=uuid.uuid4(), actor="user:1", dataset_id=uuid.uuid4(), name=name, task=Task.DETECT
    )


@pytest.fixture
async def nc(nats_url: str) -> AsyncIterator[NatsClient]:
    client = await jetstream.connect(nats_url, "test")
    await jetstream.ensure_streams(client.jetstream(), [streams.DATASETS, streams.DLQ])
    yield client
    await client.close()


async def _publish(nc: NatsClient, *events: Event) -> None:
    for event in events:
        await nc.jetstream().publish(event.nats_subject, event.encode(), headers=event.headers())


async def _until(condition: "asyncio.Event", seconds: float = 10) -> None:
    await asyncio.wait_for(condition.wait(), seconds)


async def _dead_letters(nc: NatsClient, count: int) -> list[dict[str, str]]:
    sub = await nc.jetstream().pull_subscribe("dlq.>", durable=None, stream="DLQ")
    msgs = await sub.fetch(count, timeout=5)
    await sub.unsubscribe()
    return [dict(m.headers or {}) | {"subject": m.subject} for m in msgs]


async def test_typed_events_are_handled_and_acked(nats_url: str, nc: NatsClient) -> None:
    events = [_event(f"d{i}") for i in range(50)]
    got: list[Event] = []
    done = asyncio.Event()
    broker = NatsBroker(nats_url, logger=None)

    @event_consumer(broker, SPEC)
    async def handle(event: Event) -> None:
        got.append(event)
        if len(got) == len(events):
            done.set()

    await _publish(nc, *events)
    async with consuming(broker, nc):
        await _until(done)
        await asyncio.sleep(0.2)
    assert got == events
    info = await nc.jetstream().consumer_info("DATASETS", SPEC.durable)
    assert info.num_ack_pending == 0 and info.num_pending == 0
    assert info.config.max_deliver == 3 and info.config.ack_wait == 5
    assert info.config.backoff == [5, 5.05, 5.1]


async def test_a_failing_event_is_retried_up_to_max_deliver_then_dead_lettered(nats_url: str, nc: NatsClient) -> None:
    attempts: list[int] = []
    survivor_seen = asyncio.Event()
    broker = NatsBroker(nats_url, logger=None)
    bad, good = _event("bad"), _event("good")

    @event_consumer(broker, SPEC)
    async def handle(event: Event) -> None:
        assert isinstance(event, DatasetCreated)
        if event.name == "bad":
            attempts.append(1)
            raise RuntimeError("cannot handle this one")
        survivor_seen.set()

    await _publish(nc, bad, good)
    async with consuming(broker, nc):
        await _until(survivor_seen)
        deadline = asyncio.get_running_loop().time() + 60  # generous: CI machines are shared
        while asyncio.get_running_loop().time() < deadline:
            if len(attempts) >= 3 and (await nc.jetstream().stream_info("DLQ")).state.messages:
                break
            await asyncio.sleep(0.05)
    assert len(attempts) == SPEC.max_deliver
    [letter] = await _dead_letters(nc, 1)
    assert letter["subject"] == "dlq.dataset.created"
    assert "cannot handle this one" in letter[DLQ_REASON_HEADER]


async def test_poison_message_goes_to_dlq_at_once_and_does_not_block_the_rest(nats_url: str, nc: NatsClient) -> None:
    good_seen = asyncio.Event()
    broker = NatsBroker(nats_url, logger=None)

    @event_consumer(broker, SPEC)
    async def handle(event: Event) -> None:
        good_seen.set()

    await nc.jetstream().publish("dataset.created", b"this is not json")
    await _publish(nc, _event())
    async with consuming(broker, nc):
        await _until(good_seen)
    [letter] = await _dead_letters(nc, 1)
    assert letter[DLQ_REASON_HEADER].startswith("undecodable")


async def test_retry_later_brings_the_event_back(nats_url: str, nc: NatsClient) -> None:
    calls = 0
    done = asyncio.Event()
    broker = NatsBroker(nats_url, logger=None)

    @event_consumer(broker, SPEC)
    async def handle(event: Event) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RetryLater(0.1, "dataset not visible yet")
        done.set()

    await _publish(nc, _event())
    async with consuming(broker, nc):
        await _until(done)
    assert calls == 2


async def test_a_handler_longer_than_ack_wait_keeps_its_message(nats_url: str, nc: NatsClient) -> None:
    """An import can take minutes: the consumer keeps the lease, so no second delivery starts meanwhile."""
    spec = ConsumerSpec("DATASETS", "slow-consumer", "dataset.>", ack_wait_s=1.0, max_deliver=3, backoff_s=(0.1,))
    deliveries: list[int] = []
    done = asyncio.Event()
    broker = NatsBroker(nats_url, logger=None)

    @event_consumer(broker, spec, batch_size=1)
    async def handle(event: Event) -> None:
        deliveries.append(1)
        await asyncio.sleep(3.0)  # three AckWaits
        done.set()

    await _publish(nc, _event())
    async with consuming(broker, nc):
        await _until(done)
        await asyncio.sleep(1.5)  # a redelivery would have come by now
    assert deliveries == [1]


async def test_events_arriving_at_irregular_intervals_are_all_handled_promptly(nats_url: str, nc: NatsClient) -> None:
    """Fetches that time out part-way must not drop what they already got (faststream's batch pull did)."""
    rng = random.Random(7)
    handled: list[float] = []
    sent: dict[str, float] = {}
    broker = NatsBroker(nats_url, logger=None)

    @event_consumer(broker, dataclasses.replace(SPEC, durable="irregular", ack_wait_s=30))
    async def handle(event: Event) -> None:
        assert isinstance(event, DatasetCreated)
        handled.append(asyncio.get_running_loop().time() - sent[event.name])

    async with consuming(broker, nc):
        for i in range(200):
            event = _event(f"e{i}")
            sent[event.name] = asyncio.get_running_loop().time()
            await _publish(nc, event)
            await asyncio.sleep(rng.choice([0, 0.001, 0.05, 0.099, 0.1, 0.101]))
        await asyncio.sleep(2)
    assert len(handled) == 200
    assert max(handled) < 2.0  # none waited for a redelivery
    info = await nc.jetstream().consumer_info("DATASETS", "irregular")
    assert info.num_ack_pending == 0 and info.num_redelivered == 0
