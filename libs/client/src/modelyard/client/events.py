"""`modelyard events tail`: follow a subject on JetStream and yield typed events as they arrive."""

from __future__ import annotations

from collections.abc import AsyncIterator

import nats
from nats.js.api import DeliverPolicy

from modelyard.client import stackfile
from modelyard.contracts import envelope, events  # noqa: F401 - importing events registers every event type
from modelyard.contracts.envelope import Event


async def tail(
    nats_url: str, subject: str, *, from_start: bool = False, limit: int | None = None
) -> AsyncIterator[tuple[str, Event | bytes]]:
    """(subject, event) for each message; undecodable payloads come through as raw bytes, never dropped."""
    nc = await nats.connect(
        nats_url, name="modelyard-cli", connect_timeout=5, max_reconnect_attempts=3, **stackfile.nats_credentials()
    )
    try:
        js = nc.jetstream()
        sub = await js.subscribe(
            subject,
            ordered_consumer=True,
            deliver_policy=DeliverPolicy.ALL if from_start else DeliverPolicy.NEW,
        )
        seen = 0
        async for msg in sub.messages:
            try:
                item: Event | bytes = envelope.decode(msg.data)
            except ValueError:
                item = msg.data
            yield msg.subject, item
            seen += 1
            if limit is not None and seen >= limit:
                break
        await sub.unsubscribe()
    finally:
        await nc.close()
