"""Durable JetStream consumers of typed events, on faststream.

`@event_consumer(broker, spec)` registers `async def handler(event: Event) -> None` on the durable pull consumer
described by a contracts ConsumerSpec (MaxDeliver, BackOff, AckWait declared on the server). Messages are fetched
in batches for throughput and acknowledged one by one:

- handled: ack;
- `RetryLater(delay_s)` raised: nak with that delay (does not count as a failure in the logs);
- any other error: nak with the spec's BackOff step for this delivery, until MaxDeliver; then the message is
  copied to `dlq.<subject>` (DLQ stream, reason in headers) and terminated;
- undecodable (not JSON, unknown event type, invalid fields): dead-lettered at once, no retries.

Handlers must be idempotent (use `inbox.claim`): a crash between effect and ack redelivers the message.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from faststream import AckPolicy
from faststream.nats import JStream, NatsBroker, PullSub
from faststream.nats.annotations import NatsMessage
from nats.aio.msg import Msg
from pydantic import ValidationError

from modelyard.contracts import subjects
from modelyard.contracts.envelope import MSG_ID_HEADER, Event, decode
from modelyard.contracts.streams import DLQ, ConsumerSpec
from modelyard.runtime.jetstream import consumer_config
from modelyard.runtime.logging import bound, get_logger

log = get_logger(__name__)

DLQ_REASON_HEADER = "Modelyard-Dlq-Reason"
DLQ_DELIVERIES_HEADER = "Modelyard-Dlq-Deliveries"
DLQ_CONSUMER_HEADER = "Modelyard-Dlq-Consumer"

E = TypeVar("E", bound=Event)
EventHandler = Callable[[Any], Awaitable[None]]


class RetryLater(Exception):
    """Raise from a handler that cannot proceed yet; the message comes back after `delay_s`."""

    def __init__(self, delay_s: float, reason: str = "") -> None:
        super().__init__(reason or f"retry in {delay_s}s")
        self.delay_s = delay_s


async def _raw_bodies(message: Any) -> list[bytes]:
    """Skip faststream's JSON decoding: one poison message must not fail the whole batch."""
    return [m.data for m in message.raw_message]


def event_consumer(
    broker: NatsBroker, spec: ConsumerSpec, *, batch_size: int = 256
) -> Callable[[EventHandler], EventHandler]:
    def register(fn: EventHandler) -> EventHandler:
        @broker.subscriber(
            spec.filter_subject,
            stream=JStream(spec.stream, declare=False),
            durable=spec.durable,
            config=consumer_config(spec),
            pull_sub=PullSub(batch_size=batch_size, timeout=0.1, batch=True),  # a batch waits 0.1 s at most
            ack_policy=AckPolicy.MANUAL,
            decoder=_raw_bodies,
            title=spec.durable,
        )
        async def handle(bodies: list[bytes], msg: NatsMessage) -> None:
            batch: list[Msg] = msg.raw_message  # type: ignore[assignment]  # a list in batch mode
            for raw in batch:
                await _deliver(broker, spec, fn, raw)

        return fn

    return register


async def _deliver(broker: NatsBroker, spec: ConsumerSpec, fn: EventHandler, raw: Msg) -> None:
    delivered = raw.metadata.num_delivered or 1
    try:
        event = decode(raw.data)
    except (ValueError, ValidationError) as exc:  # JSON, unknown type and field errors are all ValueErrors
        await _dead_letter(broker, spec, raw, f"undecodable: {exc}"[:500])
        return
    with bound(event_id=str(event.event_id), correlation_id=event.correlation_id, consumer=spec.durable):
        try:
            with _Lease(raw, spec.ack_wait_s / 3):
                await fn(event)
        except RetryLater as retry:
            await raw.nak(delay=retry.delay_s)
            return
        except Exception as exc:
            if delivered >= spec.max_deliver:
                log.exception("consumer.dead_lettered", deliveries=delivered)
                await _dead_letter(broker, spec, raw, f"{type(exc).__name__}: {exc}"[:500])
                return
            delay = spec.pause_before(delivered)
            log.warning("consumer.retry", deliveries=delivered, retry_in_s=delay, error=repr(exc))
            await raw.nak(delay=delay)
            return
    await raw.ack()


class _Lease:
    """While a handler runs longer than a third of AckWait (an import, say), tell the server every third of
    AckWait that the message is in progress, so it is not handed to a second consumer meanwhile. A timer, not a
    task: for the common millisecond handler this costs one call_later and one cancel."""

    def __init__(self, raw: Msg, every_s: float) -> None:
        self._raw, self._every_s = raw, every_s
        self._loop = asyncio.get_running_loop()
        self._handle = self._loop.call_later(every_s, self._beat)
        self._beats: set[asyncio.Task[None]] = set()

    def _beat(self) -> None:
        task = self._loop.create_task(self._raw.in_progress())
        self._beats.add(task)
        task.add_done_callback(self._beats.discard)
        self._handle = self._loop.call_later(self._every_s, self._beat)

    def __enter__(self) -> _Lease:
        return self

    def __exit__(self, *_: object) -> None:
        self._handle.cancel()


async def _dead_letter(broker: NatsBroker, spec: ConsumerSpec, raw: Msg, reason: str) -> None:
    headers = dict(raw.headers or {})
    headers |= {
        DLQ_REASON_HEADER: reason.replace("\n", " "),
        DLQ_DELIVERIES_HEADER: str(raw.metadata.num_delivered or 1),
        DLQ_CONSUMER_HEADER: spec.durable,
    }
    if MSG_ID_HEADER in headers:  # one dead letter per event and consumer, deduplicated like the original
        headers[MSG_ID_HEADER] = f"{headers[MSG_ID_HEADER]}:{spec.durable}"
    await broker.publish(raw.data, subjects.dead_letter(raw.subject), headers=headers, stream=DLQ.name)
    await raw.term()
