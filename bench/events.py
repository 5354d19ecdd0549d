"""Events per second into one consumer, on the same pre-filled stream, in one run:

- Modelyard: `runtime.consumer.event_consumer` (nats-py batch pull, contracts envelope decoded into typed
  pydantic events, each acked on its own, DLQ/backoff logic on the path);
- raw nats-py: pull fetch of 500 + ack, no decoding (the baseline);
- for reference, a plain faststream subscriber typed with the event, one message per handler call.

Starts its own nats-server (libs/embedded) in a temporary folder. Prints a table, then one JSON line:
{"events_per_s", "raw_events_per_s", "ratio", ...}. Goal: at least 5,000 ev/s and at least half of raw nats-py.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import nats
from faststream import AckPolicy
from faststream.nats import JStream, NatsBroker, PullSub
from nats.js.api import AckPolicy as JsAckPolicy
from nats.js.api import ConsumerConfig

from modelyard.contracts import streams
from modelyard.contracts.api.datasets import Task
from modelyard.contracts.envelope import Event
from modelyard.contracts.events import DatasetCreated
from modelyard.contracts.streams import ConsumerSpec
from modelyard.embedded.nats import NatsServer
from modelyard.runtime import jetstream
from modelyard.runtime.consumer import consuming, event_consumer

EVENTS = 20_000
ROUNDS = 3
BATCH = 500


async def fill(url: str) -> None:
    nc = await jetstream.connect(url, "bench-publisher")
    js = nc.jetstream()
    await jetstream.ensure_streams(js, [streams.DATASETS])
    org = uuid.uuid4()
    pending = []
    for i in range(EVENTS):
        event = DatasetCreated(
            correlation_id=f"bench-{i}",
            org_id=org,
            actor="service:bench",
            dataset_id=uuid.uuid4(),
            name=f"d{i}",
            task=Task.DETECT,
        )
        pending.append(await js.publish_async(event.nats_subject, event.encode(), headers=event.headers()))
    await asyncio.gather(*pending)
    await nc.close()


async def raw_nats(url: str, durable: str) -> float:
    nc = await nats.connect(url)
    js = nc.jetstream()
    await js.add_consumer(streams.DATASETS.name, ConsumerConfig(durable_name=durable, ack_policy=JsAckPolicy.EXPLICIT))
    sub = await js.pull_subscribe_bind(durable, streams.DATASETS.name)
    seen = 0
    started = time.perf_counter()
    while seen < EVENTS:
        for msg in await sub.fetch(BATCH, timeout=5):
            await msg.ack()
            seen += 1
    elapsed = time.perf_counter() - started
    await sub.unsubscribe()
    await nc.close()
    return EVENTS / elapsed


async def _consume(url: str, register: Callable[[NatsBroker, Callable[[int], None]], None]) -> float:
    broker = NatsBroker(url, logger=None)
    done = asyncio.Event()
    seen = 0

    def count(n: int) -> None:
        nonlocal seen
        seen += n
        if seen >= EVENTS:
            done.set()

    register(broker, count)
    nc = await jetstream.connect(url, "bench-consumer")
    started = time.perf_counter()
    await broker.start()  # faststream subscribers (the reference path)
    async with consuming(broker, nc):  # modelyard event consumers
        await asyncio.wait_for(done.wait(), 300)
        elapsed = time.perf_counter() - started
    await broker.stop()
    await nc.close()
    return EVENTS / elapsed


async def modelyard_path(url: str, durable: str) -> float:
    spec = ConsumerSpec(streams.DATASETS.name, durable, "dataset.>", max_ack_pending=5000)

    def register(broker: NatsBroker, count: Callable[[int], None]) -> None:
        @event_consumer(broker, spec, batch_size=BATCH)
        async def handle(event: Event) -> None:
            assert isinstance(event, DatasetCreated)
            count(1)

    return await _consume(url, register)


async def faststream_per_message(url: str, durable: str) -> float:
    def register(broker: NatsBroker, count: Callable[[int], None]) -> None:
        @broker.subscriber(
            "dataset.>",
            stream=JStream(streams.DATASETS.name, declare=False),
            durable=durable,
            pull_sub=PullSub(batch_size=BATCH, timeout=1),
            ack_policy=AckPolicy.ACK,
        )
        async def handle(event: DatasetCreated) -> None:
            count(1)

    return await _consume(url, register)


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp, NatsServer(Path(tmp)) as server:
        await fill(server.url)
        raw: list[float] = []
        ours: list[float] = []
        plain: list[float] = []
        for round_ in range(ROUNDS):  # interleaved, so drift on a shared machine hits all alike
            raw.append(await raw_nats(server.url, f"raw-{round_}"))
            ours.append(await modelyard_path(server.url, f"modelyard-{round_}"))
            plain.append(await faststream_per_message(server.url, f"plain-{round_}"))
    raw_rate, our_rate, plain_rate = (statistics.median(x) for x in (raw, ours, plain))
    rows = [
        ("raw nats-py (fetch 500 + ack)", raw_rate, raw),
        ("modelyard event_consumer (typed)", our_rate, ours),
        ("faststream, 1 msg per call (ref.)", plain_rate, plain),
    ]
    print(f"{'path':<36}{'events/s (median)':>20}   runs")
    for label, rate, runs in rows:
        print(f"{label:<36}{rate:>20,.0f}   {', '.join(f'{r:,.0f}' for r in runs)}")
    print(
        f"ratio {our_rate / raw_rate:.2f} (goal >= 0.5); {EVENTS:,} events per run, {ROUNDS} rounds; goal >= 5,000 ev/s"
    )
    print(
        json.dumps(
            {
                "events_per_s": round(our_rate),
                "raw_events_per_s": round(raw_rate),
                "ratio": round(our_rate / raw_rate, 3),
                "faststream_per_message_events_per_s": round(plain_rate),
                "events": EVENTS,
                "rounds": ROUNDS,
            }
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
