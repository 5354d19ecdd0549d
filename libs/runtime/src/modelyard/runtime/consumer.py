"""Durable JetStream consumers of typed events.

`@event_consumer(broker, spec)` registers `async def handler(event: Event) -> None` on the durable pull consumer
described by a contracts ConsumerSpec (MaxDeliver, BackOff, AckWait declared on the server); `start_consumers`
starts them once the service is connected (runtime.service does it). Messages are fetched in batches for
throughput and acknowledged one by one:

- handled: ack;
- `RetryLater(delay_s)` raised: nak with that delay (does not count as a failure in the logs);
- any other error: nak with the spec's BackOff step for this delivery, until MaxDeliver; then the message is
  copied to `dlq.<subject>` (DLQ stream, reason in headers) and terminated;
- undecodable (not JSON, unknown event type, invalid fields): dead-lettered at once, no retries.

Handlers must be idempotent (use `inbox.claim`): a crash between effect and ack redelivers the message.

The pull loop is nats-py's own `fetch`, not faststream's batch subscriber: that one dropped about 1 in 60 messages
it had fetched whenever a fetch timed out part-way (they came back only after AckWait; reproduced here with 300
events at irregular intervals). Faststream still serves request/reply; the broker is only the registry here.
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

from faststream.nats import NatsBroker
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.errors import ConnectionClosedError
from nats.errors import TimeoutError as NatsTimeout
from nats.js import JetStreamContext
from pydantic import ValidationError

from modelyard.contracts import subjects
from modelyard.contracts.envelope import MSG_ID_HEADER, Event, decode
from modelyard.contracts.streams import DLQ, ConsumerSpec
from modelyard.runtime import jetstream, metrics, tasks
from modelyard.runtime.logging import bound, get_logger

log = get_logger(__name__)

DLQ_REASON_HEADER = subjects.DLQ_REASON_HEADER
DLQ_DELIVERIES_HEADER = subjects.DLQ_DELIVERIES_HEADER
DLQ_CONSUMER_HEADER = subjects.DLQ_CONSUMER_HEADER
FETCH_WAIT_S = 0.1  # how long an idle fetch waits; with messages waiting it returns at once

E = TypeVar("E", bound=Event)
EventHandler = Callable[[Any], Awaitable[None]]


class RetryLater(Exception):
    """Raise from a handler that cannot proceed yet; the message comes back after `delay_s`."""

    def __init__(self, delay_s: float, reason: str = "") -> None:
        super().__init__(reason or f"retry in {delay_s}s")
        self.delay_s = delay_s


class EventConsumer:
    """One durable pull consumer and its handler, running in one task."""

    def __init__(self, spec: ConsumerSpec, fn: EventHandler, batch_size: int) -> None:
        self.spec, self.fn, self.batch_size = spec, fn, batch_size
        self._task: asyncio.Task[None] | None = None
        self._sub: JetStreamContext.PullSubscription | None = None

    async def start(self, nc: NatsClient) -> None:
        js = nc.jetstream()
        await jetstream.ensure_consumer(js, self.spec)
        self._sub = await js.pull_subscribe_bind(self.spec.durable, self.spec.stream)
        self._task = asyncio.create_task(self._run(js), name=f"consumer-{self.spec.durable}")

    async def stop(self) -> None:
        if self._task is not None:
            await tasks.stop(self._task)
        if self._sub is not None:
            with contextlib.suppress(Exception):
                await self._sub.unsubscribe()

    async def _run(self, js: JetStreamContext) -> None:
        assert self._sub is not None
        while True:
            try:
                batch = await self._sub.fetch(self.batch_size, timeout=FETCH_WAIT_S)
            except (NatsTimeout, TimeoutError):
                continue
            except ConnectionClosedError:
                return
            except Exception as exc:  # noqa: BLE001 - the server is away for a moment: try again
                log.warning("consumer.fetch_failed", consumer=self.spec.durable, error=repr(exc))
                await asyncio.sleep(0.5)
                continue
            for raw in batch:
                await _deliver(js, self.spec, self.fn, raw)


_REGISTERED: weakref.WeakKeyDictionary[NatsBroker, list[EventConsumer]] = weakref.WeakKeyDictionary()


def event_consumer(
    broker: NatsBroker, spec: ConsumerSpec, *, batch_size: int = 256
) -> Callable[[EventHandler], EventHandler]:
    def register(fn: EventHandler) -> EventHandler:
        _REGISTERED.setdefault(broker, []).append(EventConsumer(spec, fn, batch_size))
        return fn

    return register


async def start_consumers(broker: NatsBroker, nc: NatsClient) -> list[EventConsumer]:
    """Start every consumer registered on `broker`; returns them (stop them with `stop_consumers`)."""
    consumers = _REGISTERED.get(broker, [])
    for consumer in consumers:
        await consumer.start(nc)
    return consumers


async def stop_consumers(consumers: list[EventConsumer]) -> None:
    for consumer in consumers:
        await consumer.stop()


@contextlib.asynccontextmanager
async def consuming(broker: NatsBroker, nc: NatsClient) -> AsyncIterator[list[EventConsumer]]:
    """The consumers registered on `broker`, running for the duration of the block."""
    consumers = await start_consumers(broker, nc)
    try:
        yield consumers
    finally:
        await stop_consumers(consumers)


async def _deliver(js: JetStreamContext, spec: ConsumerSpec, fn: EventHandler, raw: Msg) -> None:
    delivered = raw.metadata.num_delivered or 1
    handled = metrics.EVENTS_HANDLED
    try:
        event = decode(raw.data)
    except (ValueError, ValidationError) as exc:  # JSON, unknown type and field errors are all ValueErrors
        await _dead_letter(js, spec, raw, f"undecodable: {exc}"[:500])
        handled.labels(spec.durable, "undecodable").inc()
        return
    with bound(event_id=str(event.event_id), correlation_id=event.correlation_id, consumer=spec.durable):
        try:
            with _Lease(raw, spec.ack_wait_s / 3), metrics.HANDLER_SECONDS.labels(spec.durable).time():
                await fn(event)
        except RetryLater as retry:
            await raw.nak(delay=retry.delay_s)
            handled.labels(spec.durable, "retry").inc()
            return
        except Exception as exc:
            if delivered >= spec.max_deliver:
                log.exception("consumer.dead_lettered", deliveries=delivered)
                await _dead_letter(js, spec, raw, f"{type(exc).__name__}: {exc}"[:500])
                handled.labels(spec.durable, "dead_letter").inc()
                return
            delay = spec.pause_before(delivered)
            log.warning("consumer.retry", deliveries=delivered, retry_in_s=delay, error=repr(exc))
            await raw.nak(delay=delay)
            handled.labels(spec.durable, "retry").inc()
            return
    await raw.ack()
    handled.labels(spec.durable, "ack").inc()


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


async def _dead_letter(js: JetStreamContext, spec: ConsumerSpec, raw: Msg, reason: str) -> None:
    headers = dict(raw.headers or {})
    headers |= {
        DLQ_REASON_HEADER: reason.replace("\n", " "),
        DLQ_DELIVERIES_HEADER: str(raw.metadata.num_delivered or 1),
        DLQ_CONSUMER_HEADER: spec.durable,
    }
    if MSG_ID_HEADER in headers:  # one dead letter per event and consumer, deduplicated like the original
        headers[MSG_ID_HEADER] = f"{headers[MSG_ID_HEADER]}:{spec.durable}"
    await js.publish(subjects.dead_letter(raw.subject), raw.data, headers=headers, stream=DLQ.name)
    await raw.term()
