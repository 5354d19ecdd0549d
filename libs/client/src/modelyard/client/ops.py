"""Operator views of JetStream: stream and consumer health (`modelyard streams`) and the dead-letter queue
(`modelyard dlq list|show|replay`). The logic lives here, without typer, so tests drive it on a real nats-server.

Dead letters are read with the stream's message-get API (`STREAM.MSG.GET`, next-by-subject), not with a consumer:
listing the DLQ leaves no consumer state behind and cannot race the consumers that fill it.

A dead letter is the original message moved to `dlq.<original subject>` by runtime.consumer: the payload is
byte-identical, the original headers are kept, the `Modelyard-Dlq-*` headers say why, and its Nats-Msg-Id is
`<original id>:<consumer>`. Replay reverses that (see `replay`).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Iterable
from datetime import datetime
from enum import StrEnum
from typing import Any

import nats
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from nats.js.api import ConsumerInfo, RawStreamMsg
from nats.js.errors import NotFoundError
from pydantic import BaseModel, ValidationError

from modelyard.client import stackfile
from modelyard.contracts import envelope, events, subjects  # noqa: F401 - importing events registers every type
from modelyard.contracts.envelope import EVENT_TYPE_HEADER, MSG_ID_HEADER
from modelyard.contracts.streams import ALL_STREAMS, DLQ

DLQ_HEADER_PREFIX = subjects.DLQ_HEADER_PREFIX
DLQ_REASON_HEADER = subjects.DLQ_REASON_HEADER
DLQ_DELIVERIES_HEADER = subjects.DLQ_DELIVERIES_HEADER
DLQ_CONSUMER_HEADER = subjects.DLQ_CONSUMER_HEADER
NATS_HEADER_PREFIX = "Nats-"  # server-interpreted headers (Msg-Id, Expected-Stream, Rollup...): never replayed
REPLAY_MARK = ":replay:"
CONSUMER_PAGE = 256  # the server lists at most this many consumers per request
STREAM_NOT_FOUND = 10059  # JetStream API error code (JSStreamNotFoundErr); 10037 is "no message found"


# -- models -------------------------------------------------------------------------------------------------------


class ConsumerStats(BaseModel):
    """One durable consumer. Sequence numbers are stream sequences, comparable with the stream's first/last."""

    name: str
    filter_subject: str | None
    pending: int  # matching messages not yet delivered (num_pending): the backlog
    ack_pending: int  # delivered, neither acked nor terminated yet
    redelivered: int  # of those, delivered more than once
    ack_floor: int  # every message up to this stream seq is acknowledged
    last_delivered: int
    last_active: datetime | None
    waiting_pulls: int  # fetches parked on the server: idle workers
    max_deliver: int | None
    ack_wait_s: float | None


class StreamStats(BaseModel):
    name: str
    subjects: list[str]
    messages: int
    bytes: int
    first_seq: int
    last_seq: int
    consumers: int  # every consumer the server counts, ephemeral ones (`events tail`) included
    durables: list[ConsumerStats]


class StreamsReport(BaseModel):
    streams: list[StreamStats]
    missing: list[str]  # declared in contracts, absent on the server (no service has started yet)


class DeadLetterSummary(BaseModel):
    seq: int  # in the DLQ stream: what `dlq show` and `dlq replay` take
    subject: str  # the original subject, where a replay goes
    event_type: str | None
    event_id: str | None
    consumer: str | None
    deliveries: int | None
    reason: str | None
    time: datetime | None  # when it was dead-lettered


class DeadLetterPage(BaseModel):
    dead_letters: list[DeadLetterSummary]
    total: int  # messages in the DLQ stream, whatever the filter


class DeadLetter(DeadLetterSummary):
    headers: dict[str, str]
    event: dict[str, Any] | None  # the decoded, upcast event
    payload: str | None  # the raw payload, when it is not a decodable event
    decode_error: str | None


class ReplayOutcome(StrEnum):
    REPLAYED = "replayed"
    ALREADY_PUBLISHED = "already published"  # an earlier replay published it, then stopped before the delete
    DRY_RUN = "would replay"
    NOT_FOUND = "not in the DLQ"  # replayed (or deleted) before: nothing to do
    FAILED = "failed"


class Replayed(BaseModel):
    seq: int
    subject: str | None
    msg_id: str | None
    outcome: ReplayOutcome
    stream: str | None = None
    stream_seq: int | None = None  # where the republished message landed
    error: str | None = None


# -- connection ---------------------------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def connected(nats_url: str) -> AsyncIterator[JetStreamContext]:
    """A short-lived connection for one command: a few attempts, then an error, never a hang. nats-py's default
    error callback prints a traceback per failed attempt; the caller reports the final error once instead."""

    async def quiet(exc: Exception) -> None:
        return None

    nc: NatsClient = await nats.connect(
        nats_url,
        name="modelyard-cli",
        connect_timeout=5,
        max_reconnect_attempts=3,
        reconnect_time_wait=0.5,
        error_cb=quiet,
        **stackfile.nats_credentials(),
    )
    try:
        yield nc.jetstream()
    finally:
        await nc.close()


# -- streams ------------------------------------------------------------------------------------------------------


def _consumer_stats(info: ConsumerInfo) -> ConsumerStats:
    return ConsumerStats(
        name=info.name,
        filter_subject=info.config.filter_subject or ", ".join(info.config.filter_subjects or []) or None,
        pending=info.num_pending or 0,
        ack_pending=info.num_ack_pending or 0,
        redelivered=info.num_redelivered or 0,
        ack_floor=info.ack_floor.stream_seq if info.ack_floor else 0,
        last_delivered=info.delivered.stream_seq if info.delivered else 0,
        last_active=info.delivered.last_active if info.delivered else None,
        waiting_pulls=info.num_waiting or 0,
        max_deliver=info.config.max_deliver,
        ack_wait_s=info.config.ack_wait,
    )


async def _durables(js: JetStreamContext, stream: str) -> list[ConsumerStats]:
    found: list[ConsumerInfo] = []
    while True:
        page = await js.consumers_info(stream, offset=len(found))
        found += page
        if len(page) < CONSUMER_PAGE:
            break
    return sorted((_consumer_stats(c) for c in found if c.config.durable_name), key=lambda c: c.name)


async def streams_report(js: JetStreamContext) -> StreamsReport:
    """Every stream of contracts.streams.ALL_STREAMS that exists, with its durable consumers."""
    report = StreamsReport(streams=[], missing=[])
    for spec in ALL_STREAMS:
        try:
            info = await js.stream_info(spec.name)
        except NotFoundError:
            report.missing.append(spec.name)
            continue
        state = info.state
        report.streams.append(
            StreamStats(
                name=spec.name,
                subjects=list(info.config.subjects or []),
                messages=state.messages,
                bytes=state.bytes,
                first_seq=state.first_seq,
                last_seq=state.last_seq,
                consumers=state.consumer_count,
                durables=await _durables(js, spec.name),
            )
        )
    return report


# -- dead letters -------------------------------------------------------------------------------------------------


def dlq_filter(pattern: str | None) -> str:
    """The DLQ subject filter for a pattern over ORIGINAL subjects (`dataset.>` → `dlq.dataset.>`)."""
    return subjects.dead_letter(pattern) if pattern else subjects.DLQ_ALL


def original_subject(dlq_subject: str) -> str:
    return dlq_subject.removeprefix(subjects.DLQ_PREFIX)


def _json_field(data: bytes | None, name: str) -> str | None:
    try:
        value = json.loads(data or b"").get(name)
    except (ValueError, AttributeError):
        return None
    return value if isinstance(value, str) else None


def _summary(msg: RawStreamMsg) -> DeadLetterSummary:
    headers: dict[str, str] = dict(msg.headers or {})
    deliveries = headers.get(DLQ_DELIVERIES_HEADER, "")
    return DeadLetterSummary(
        seq=msg.seq or 0,
        subject=original_subject(msg.subject or ""),
        event_type=headers.get(EVENT_TYPE_HEADER) or _json_field(msg.data, "event_type"),
        event_id=_json_field(msg.data, "event_id"),
        consumer=headers.get(DLQ_CONSUMER_HEADER),
        deliveries=int(deliveries) if deliveries.isdigit() else None,
        reason=headers.get(DLQ_REASON_HEADER),
        time=msg.time,
    )


async def _get(js: JetStreamContext, seq: int) -> RawStreamMsg | None:
    """The DLQ message at `seq`; None when there is none (never was, replayed, deleted, aged out)."""
    try:
        return await js.get_msg(DLQ.name, seq)
    except NotFoundError as exc:
        if exc.err_code == STREAM_NOT_FOUND:
            raise
        return None


async def _scan(js: JetStreamContext, pattern: str | None, upto: int | None = None) -> AsyncIterator[RawStreamMsg]:
    """DLQ messages whose original subject matches `pattern`, oldest first, up to stream seq `upto`."""
    seq, subject = 1, dlq_filter(pattern)
    while upto is None or seq <= upto:
        try:
            msg = await js.get_msg(DLQ.name, seq, subject=subject, next=True)
        except NotFoundError:
            return
        if msg.seq is None or (upto is not None and msg.seq > upto):
            return
        yield msg
        seq = msg.seq + 1


async def list_dead_letters(js: JetStreamContext, pattern: str | None = None, limit: int = 100) -> DeadLetterPage:
    """The oldest `limit` dead letters whose original subject matches `pattern`."""
    total = (await js.stream_info(DLQ.name)).state.messages
    found: list[DeadLetterSummary] = []
    async for msg in _scan(js, pattern):
        found.append(_summary(msg))
        if len(found) >= limit:
            break
    return DeadLetterPage(dead_letters=found, total=total)


async def get_dead_letter(js: JetStreamContext, seq: int) -> DeadLetter | None:
    """One dead letter with its headers and its event decoded (upcast to the current schema) when it can be."""
    msg = await _get(js, seq)
    if msg is None:
        return None
    event: dict[str, Any] | None = None
    payload: str | None = None
    error: str | None = None
    try:
        event = envelope.decode(msg.data or b"").model_dump(mode="json")
    except (ValueError, ValidationError) as exc:  # not JSON, unknown type, invalid fields
        payload, error = (msg.data or b"").decode(errors="replace"), str(exc)
    return DeadLetter(
        **_summary(msg).model_dump(),
        headers=dict(msg.headers or {}),
        event=event,
        payload=payload,
        decode_error=error,
    )


# -- replay -------------------------------------------------------------------------------------------------------


def replay_msg_id(msg: RawStreamMsg) -> str:
    """`<event id>:replay:<DLQ seq>`: new, so JetStream's duplicate window on the original stream does not drop the
    replay as a copy of the original (a dead letter usually lands well inside the 2-minute window); deterministic per
    dead letter, so a replay that stopped between publish and delete, run again, or two operators replaying the same
    seq at once, publish one message, not two. It also gives the dead letter of a replay that fails again a new DLQ
    id (`...:replay:<seq>:<consumer>`), which the DLQ's own duplicate window would otherwise drop.

    The event id is the payload's (unchanged by replay, so consumers' inboxes still deduplicate by it); for a payload
    that is not an event, the original Nats-Msg-Id (the dead letter's, less its `:<consumer>` suffix)."""
    headers: dict[str, str] = dict(msg.headers or {})
    base = _json_field(msg.data, "event_id")
    if base is None:
        dead_id = headers.get(MSG_ID_HEADER, "")
        base = dead_id.removesuffix(f":{headers.get(DLQ_CONSUMER_HEADER, '')}") if dead_id else "dlq"
    return f"{base.split(REPLAY_MARK)[0]}{REPLAY_MARK}{msg.seq}"


def replay_headers(msg: RawStreamMsg) -> dict[str, str]:
    """The original headers, less the dead-letter ones and the server-interpreted `Nats-*` ones (the dead letter
    carries `Nats-Expected-Stream: DLQ`, which would make the server refuse the replay), with a new Nats-Msg-Id."""
    kept = {
        key: value
        for key, value in (msg.headers or {}).items()
        if not key.startswith((DLQ_HEADER_PREFIX, NATS_HEADER_PREFIX))
    }
    return kept | {MSG_ID_HEADER: replay_msg_id(msg)}


async def _replay_one(js: JetStreamContext, seq: int, *, dry_run: bool) -> Replayed:
    msg = await _get(js, seq)
    if msg is None:
        return Replayed(seq=seq, subject=None, msg_id=None, outcome=ReplayOutcome.NOT_FOUND)
    subject, headers = original_subject(msg.subject or ""), replay_headers(msg)
    done = Replayed(seq=seq, subject=subject, msg_id=headers[MSG_ID_HEADER], outcome=ReplayOutcome.DRY_RUN)
    if dry_run:
        return done
    try:
        ack = await js.publish(subject, msg.data or b"", headers=headers)
    except Exception as exc:  # noqa: BLE001 - no stream for the subject, timeout: report it, keep the dead letter
        return done.model_copy(update={"outcome": ReplayOutcome.FAILED, "error": f"publish: {exc!r}"})
    done = done.model_copy(
        update={
            "outcome": ReplayOutcome.ALREADY_PUBLISHED if ack.duplicate else ReplayOutcome.REPLAYED,
            "stream": ack.stream,
            "stream_seq": ack.seq,
        }
    )
    try:  # only now that the original stream holds it
        await js.delete_msg(DLQ.name, seq)
    except NotFoundError:
        pass  # another replay of the same seq deleted it meanwhile; its publish was deduplicated with ours
    except Exception as exc:  # noqa: BLE001 - published but still in the DLQ: replaying it again is safe
        return done.model_copy(update={"outcome": ReplayOutcome.FAILED, "error": f"delete from the DLQ: {exc!r}"})
    return done


async def replay(js: JetStreamContext, seqs: Iterable[int], *, dry_run: bool = False) -> list[Replayed]:
    """Republish each dead letter's payload and headers to its original subject, then delete it from the DLQ once
    the publish is acknowledged. Idempotent per DLQ seq: a replayed seq is gone (NOT_FOUND the next time).

    The republished event reaches every consumer of the subject, not only the one that gave up; consumers that
    handled it already skip it by event id (inbox), as they do any redelivery."""
    return [await _replay_one(js, seq, dry_run=dry_run) for seq in seqs]


async def replay_all(js: JetStreamContext, pattern: str | None = None, *, dry_run: bool = False) -> list[Replayed]:
    """`replay` of every dead letter matching `pattern` present now: the scan stops at the DLQ's last seq at the
    start, so a replay that is dead-lettered again at once (still undecodable) is not replayed in a loop."""
    upto = (await js.stream_info(DLQ.name)).state.last_seq
    seqs = [msg.seq async for msg in _scan(js, pattern, upto) if msg.seq is not None]
    return await replay(js, seqs, dry_run=dry_run)
