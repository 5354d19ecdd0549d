"""Transactional outbox.

`enqueue(conn, event)` writes the event into the service's `outbox` table inside the caller's transaction, beside
the state change it describes, and notifies the relay (the notification is delivered on commit). `OutboxRelay`
publishes unsent rows in id order with `Nats-Msg-Id = event_id` and marks them sent, in one transaction per batch.

A crash anywhere is safe: before the publish, the rows are still unsent; after the publish but before the commit,
the next relay republishes them and JetStream drops the copies inside the stream's duplicate window (2 minutes by
default, see contracts.streams). Several relays may run: `FOR UPDATE SKIP LOCKED` gives each batch to one.
"""

from __future__ import annotations

import asyncio
import contextlib

import asyncpg
from nats.js import JetStreamContext

from modelyard.contracts.envelope import Event
from modelyard.runtime import metrics
from modelyard.runtime.logging import get_logger

log = get_logger(__name__)

_INSERT = "INSERT INTO outbox (event_id, subject, headers, payload) VALUES ($1, $2, $3, $4)"
_NOTIFY = "SELECT pg_notify('outbox_' || current_schema(), '')"
_CLAIM = """SELECT id, subject, headers, payload FROM outbox WHERE sent_at IS NULL
            ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED"""
_MARK = "UPDATE outbox SET sent_at = now() WHERE id = ANY($1::bigint[])"
_PURGE = "DELETE FROM outbox WHERE sent_at < now() - make_interval(secs => $1)"


async def enqueue(conn: asyncpg.Connection, *events: Event) -> None:
    """Add events to the outbox. Call inside the transaction that makes the change they describe."""
    if not conn.is_in_transaction():
        raise RuntimeError("outbox.enqueue must run inside the transaction of the state change")
    await conn.executemany(_INSERT, [(e.event_id, e.nats_subject, e.headers(), e.encode()) for e in events])
    await conn.execute(_NOTIFY)


class OutboxRelay:
    def __init__(
        self,
        pool: asyncpg.Pool,
        js: JetStreamContext,
        schema: str,
        *,
        batch_size: int = 500,
        poll_interval_s: float = 2.0,
        publish_timeout_s: float = 10.0,
        keep_sent_s: float = 24 * 3600,
    ) -> None:
        self._pool = pool
        self._js = js
        self._channel = f"outbox_{schema}"
        self._schema = schema
        self._batch_size = batch_size
        self._poll_interval_s = poll_interval_s
        self._publish_timeout_s = publish_timeout_s
        self._keep_sent_s = keep_sent_s
        self._wake = asyncio.Event()
        self.published = 0
        self.duplicates = 0

    async def publish_batch(self) -> int:
        """Publish one batch of unsent events and mark them sent; returns how many."""
        async with self._pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(_CLAIM, self._batch_size)
            if not rows:
                return 0
            acks = [await self._js.publish_async(r["subject"], r["payload"], headers=r["headers"]) for r in rows]
            results = await asyncio.wait_for(asyncio.gather(*acks), self._publish_timeout_s)
            await self._published_not_marked()
            await conn.execute(_MARK, [r["id"] for r in rows])
        self.published += len(rows)
        metrics.OUTBOX_PUBLISHED.labels(self._schema).inc(len(rows))
        self.duplicates += sum(1 for ack in results if ack.duplicate)
        return len(rows)

    async def sample_lag(self) -> None:
        """Unsent events and the age of the oldest: a relay that cannot publish shows here first."""
        row = await self._pool.fetchrow(
            "SELECT count(*) AS n, coalesce(extract(epoch FROM now() - min(created_at)), 0) AS lag "
            "FROM outbox WHERE sent_at IS NULL"
        )
        assert row is not None
        metrics.OUTBOX_UNSENT.labels(self._schema).set(row["n"])
        metrics.OUTBOX_LAG_SECONDS.labels(self._schema).set(float(row["lag"]))

    async def purge_sent(self) -> None:
        async with self._pool.acquire() as conn:
            await conn.execute(_PURGE, self._keep_sent_s)

    async def run(self) -> None:
        """Relay until cancelled. Errors (NATS or PostgreSQL away) are logged and retried with backoff."""
        listener: asyncpg.Connection | None = None
        delay = 0.1
        loops = 0
        try:
            while True:
                try:
                    if listener is None or listener.is_closed():
                        if listener is not None:
                            await self._pool.release(listener)
                        listener = await self._listen()
                    while await self.publish_batch() == self._batch_size:
                        pass
                    loops += 1
                    if loops % 1000 == 1:
                        await self.purge_sent()
                    delay = 0.1
                except Exception as exc:  # noqa: BLE001 - any failure is retried; nothing is lost (rows stay unsent)
                    log.warning("outbox.relay_error", error=repr(exc), retry_in_s=delay)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 5.0)
                    continue
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._poll_interval_s)
                self._wake.clear()
        finally:
            if listener is not None:
                with contextlib.suppress(Exception):
                    await listener.remove_listener(self._channel, self._notified)
                    await self._pool.release(listener, timeout=5)  # a connection that cannot reset is closed

    async def _listen(self) -> asyncpg.Connection:
        """Hold one pool connection for LISTEN for the relay's lifetime (size the pool for it)."""
        conn: asyncpg.Connection = await self._pool.acquire()
        await conn.add_listener(self._channel, self._notified)
        return conn

    async def _published_not_marked(self) -> None:
        """The window a crash may hit: published, not yet marked sent. Tests put a crash here."""

    def _notified(self, *_: object) -> None:
        self._wake.set()
