"""The gateway's audit projection: every audit fact on the AUDIT stream (`AuditRecorded` from each service, the
gateway's own `UserCreated`) becomes one row of `audit_events`, which `GET /api/v1/audit` pages through.

The gateway answers audit queries from its own table rather than asking each service, because the trail spans
services and must stay readable when one of them is down. Storing is idempotent on the event id (ON CONFLICT DO
NOTHING), so a redelivery, a replay from the DLQ or a second gateway sharing the durable consumer stores each
event once, without an inbox row.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import asyncpg
from aiohttp import web
from faststream.nats import NatsBroker

from modelyard.contracts import streams, subjects
from modelyard.contracts.api.audit import WILDCARD, AuditEvent, AuditList, AuditQuery
from modelyard.contracts.envelope import Event
from modelyard.contracts.events import AuditRecorded, UserCreated
from modelyard.contracts.streams import ConsumerSpec
from modelyard.runtime.consumer import event_consumer

# One insert per event: a short AckWait brings back quickly a delivery that went astray.
PROJECTION = ConsumerSpec(
    streams.AUDIT.name,
    "gateway-audit",
    subjects.AUDIT_ALL,
    ack_wait_s=10.0,
    description="the gateway's queryable audit projection",
)
_COLUMNS = (
    "event_id, org_id, occurred_at, actor, service, action, resource_type, resource_id, summary, detail, correlation_id"
)
_INSERT = (
    f"INSERT INTO audit_events ({_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) "
    "ON CONFLICT (event_id) DO NOTHING"
)


def _like_prefix(prefix: str) -> str:
    """A LIKE pattern matching strings that start with `prefix` literally (`_` is common in action names)."""
    return prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


class AuditRepository:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def record(self, entry: AuditEvent) -> bool:
        """Store one entry; False when it was stored before (a redelivery)."""
        status: str = await self._pool.execute(
            _INSERT,
            entry.event_id,
            entry.org_id,
            entry.occurred_at,
            entry.actor,
            entry.service,
            entry.action,
            entry.resource_type,
            entry.resource_id,
            entry.summary,
            entry.detail,
            entry.correlation_id,
        )
        return status == "INSERT 0 1"

    async def page(self, org_id: UUID, query: AuditQuery) -> AuditList:
        """One org's entries matching every filter given, newest first, and how many match in all."""
        where, args = ["org_id = $1"], [org_id]

        def match(condition: str, value: Any) -> None:
            args.append(value)
            where.append(condition.format(f"${len(args)}"))

        if query.actor is not None:
            match("actor = {}", query.actor)
        if query.action is not None and query.action != WILDCARD:
            if query.action.endswith(WILDCARD):
                match("action LIKE {} ESCAPE '\\'", _like_prefix(query.action[: -len(WILDCARD)]))
            else:
                match("action = {}", query.action)
        if query.resource_type is not None:
            match("resource_type = {}", query.resource_type)
        if query.resource_id is not None:
            match("resource_id = {}", query.resource_id)
        if query.since is not None:
            match("occurred_at >= {}", query.since)
        if query.until is not None:
            match("occurred_at < {}", query.until)
        clause = " AND ".join(where)
        async with self._pool.acquire() as conn:
            total: int = await conn.fetchval(f"SELECT count(*) FROM audit_events WHERE {clause}", *args)
            rows = await conn.fetch(
                f"SELECT {_COLUMNS} FROM audit_events WHERE {clause} "
                f"ORDER BY occurred_at DESC, event_id DESC LIMIT ${len(args) + 1} OFFSET ${len(args) + 2}",
                *args,
                query.limit,
                query.offset,
            )
        return AuditList(events=[AuditEvent.model_validate(dict(row)) for row in rows], total=total)


AUDIT = web.AppKey("audit", AuditRepository)


def register_projection(broker: NatsBroker, pool: asyncpg.Pool) -> None:
    """The projection's consumer, for `service_resources(register=...)`."""
    repository = AuditRepository(pool)

    @event_consumer(broker, PROJECTION)
    async def project(event: Event) -> None:
        if isinstance(event, AuditRecorded | UserCreated):
            await repository.record(AuditEvent.of(event))
