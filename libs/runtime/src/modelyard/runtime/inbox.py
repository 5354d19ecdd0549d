"""Idempotent consumers. A handler calls `claim` inside the transaction that applies its effects: the first
delivery of an event records its id and goes ahead; a redelivery finds the id and skips, so an event delivered
twice has one effect."""

from __future__ import annotations

from uuid import UUID

import asyncpg

_CLAIM = "INSERT INTO inbox (consumer, event_id) VALUES ($1, $2) ON CONFLICT DO NOTHING"


async def claim(conn: asyncpg.Connection, consumer: str, event_id: UUID) -> bool:
    """True the first time `consumer` sees `event_id` (apply the effects); False for a duplicate (skip them)."""
    if not conn.is_in_transaction():
        raise RuntimeError("inbox.claim must run inside the transaction that applies the effects")
    status: str = await conn.execute(_CLAIM, consumer, event_id)
    return status == "INSERT 0 1"
