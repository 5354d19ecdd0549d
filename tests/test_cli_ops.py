"""`modelyard streams` and `modelyard dlq list|show|replay` against a real nats-server and a real event consumer
(runtime.consumer): a poison event exhausts MaxDeliver with BackOff and lands in the DLQ, the CLI lists and shows
it, and once the handler is fixed a replay runs it exactly once and empties the DLQ. The consumer runs on this
test's event loop, so the CLI (which runs its own loop with asyncio.run) is invoked in a worker thread."""

from __future__ import annotations

import asyncio
import json
import sys
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from faststream.nats import NatsBroker
from nats.aio.client import Client as NatsClient
from typer.testing import CliRunner, Result

from modelyard.client import ops
from modelyard.client.cli import app
from modelyard.contracts import streams
from modelyard.contracts.api.datasets import DatasetStatus, Task
from modelyard.contracts.envelope import MSG_ID_HEADER, Event
from modelyard.contracts.events import DatasetArchived, DatasetCreated
from modelyard.contracts.streams import ConsumerSpec
from modelyard.runtime import consumer, jetstream
from modelyard.runtime.consumer import consuming, event_consumer

# AckWait 1 s, three deliveries, pauses of 0.2 s and 0.5 s between them
SPEC = ConsumerSpec("DATASETS", "ops-test", "dataset.>", ack_wait_s=1.0, max_deliver=3, backoff_s=(0.2, 0.5))
TO_DLQ_SLACK_S = 5.0


def _created(name: str) -> DatasetCreated:
    return DatasetCreated(
        correlation_id="c", org_id=uuid.uuid4(), actor="user:1", dataset_id=uuid.uuid4(), name=name, task=Task.DETECT
    )


def _archived() -> DatasetArchived:
    return DatasetArchived(
        correlation_id="c",
        org_id=uuid.uuid4(),
        actor="user:1",
        dataset_id=uuid.uuid4(),
        previous_status=DatasetStatus.ACTIVE,
    )


@pytest.fixture
async def nc(nats_url: str) -> AsyncIterator[NatsClient]:
    client = await jetstream.connect(nats_url, "test")
    await jetstream.ensure_streams(client.jetstream(), streams.ALL_STREAMS)
    yield client
    await client.close()


async def _publish(nc: NatsClient, event: Event) -> None:
    await nc.jetstream().publish(event.nats_subject, event.encode(), headers=event.headers())


async def _cli(nats_url: str, *args: str) -> Result:
    env = {"MODELYARD_NATS_URL": nats_url, "COLUMNS": "200"}
    result: Result = await asyncio.to_thread(CliRunner().invoke, app, list(args), env=env)
    assert "Traceback" not in result.output, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result


async def _json(nats_url: str, *args: str) -> Any:
    result = await _cli(nats_url, *args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


async def _eventually(condition: Callable[[], Any], seconds: float) -> float:
    """Seconds until `condition()` (sync or async) is true; fails after `seconds`."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    while loop.time() - start < seconds:
        value = condition()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return loop.time() - start
        await asyncio.sleep(0.02)
    raise AssertionError(f"not within {seconds} s")


async def _dlq_size(nc: NatsClient) -> int:
    return int((await nc.jetstream().stream_info(streams.DLQ.name)).state.messages)


async def _size_is(nc: NatsClient, count: int) -> bool:
    return await _dlq_size(nc) == count


async def test_poison_event_reaches_the_dlq_and_a_replay_after_the_fix_runs_it_once(
    nats_url: str, nc: NatsClient
) -> None:
    broken = True
    attempts: Counter[str] = Counter()
    handled: Counter[str] = Counter()
    broker = NatsBroker(nats_url, logger=None)

    @event_consumer(broker, SPEC)
    async def handle(event: Event) -> None:
        assert isinstance(event, DatasetCreated)
        attempts[event.name] += 1
        if event.name == "poison" and broken:
            raise RuntimeError("poisoned: cannot handle this dataset")
        handled[event.name] += 1

    poison, fine = _created("poison"), _created("fine")
    async with consuming(broker, nc):
        loop = asyncio.get_running_loop()
        sent = loop.time()
        await _publish(nc, poison)
        await _publish(nc, fine)
        await _eventually(lambda: _dlq_size(nc), sum(SPEC.backoff_s) + TO_DLQ_SLACK_S)
        to_dlq_s = loop.time() - sent
        sys.stderr.write(f"\npoison event reached the DLQ {to_dlq_s:.2f} s after publish\n")
        assert to_dlq_s < sum(SPEC.backoff_s) + TO_DLQ_SLACK_S
        assert to_dlq_s >= sum(SPEC.backoff_s)  # the BackOff pauses were honoured
        assert attempts["poison"] == SPEC.max_deliver and handled == Counter(fine=1)

        page = await _json(nats_url, "dlq", "list")
        assert page["total"] == 1
        [letter] = page["dead_letters"]
        seq = letter["seq"]
        assert letter["subject"] == "dataset.created" and letter["event_type"] == "DatasetCreated"
        assert letter["event_id"] == str(poison.event_id) and letter["consumer"] == SPEC.durable
        assert letter["deliveries"] == SPEC.max_deliver
        assert letter["reason"] == "RuntimeError: poisoned: cannot handle this dataset"
        table = await _cli(nats_url, "dlq", "list")
        assert table.exit_code == 0, table.output
        assert "poisoned: cannot handle this dataset" in table.stdout and "1 shown, 1 in the DLQ" in table.stdout
        assert (await _json(nats_url, "dlq", "list", "--subject", "job.>"))["dead_letters"] == []

        shown = await _json(nats_url, "dlq", "show", str(seq))
        assert shown["event"]["name"] == "poison" and shown["event"]["event_id"] == str(poison.event_id)
        assert shown["headers"][consumer.DLQ_REASON_HEADER].startswith("RuntimeError")
        assert shown["decode_error"] is None
        text = await _cli(nats_url, "dlq", "show", str(seq))
        assert text.exit_code == 0 and '"name": "poison"' in text.stdout and consumer.DLQ_REASON_HEADER in text.stdout

        dry = await _json(nats_url, "dlq", "replay", str(seq), "--dry-run")
        assert dry == [
            {
                "seq": seq,
                "subject": "dataset.created",
                "msg_id": f"{poison.event_id}:replay:{seq}",
                "outcome": "would replay",
                "stream": None,
                "stream_seq": None,
                "error": None,
            }
        ]
        assert await _dlq_size(nc) == 1 and attempts["poison"] == SPEC.max_deliver

        broken = False  # the fix is deployed
        [replayed] = await _json(nats_url, "dlq", "replay", str(seq))
        assert replayed["outcome"] == "replayed" and replayed["stream"] == "DATASETS" and replayed["stream_seq"] == 3
        await _eventually(lambda: handled["poison"] == 1, 10)
        await asyncio.sleep(SPEC.ack_wait_s + 0.5)  # a second delivery would have come by now
        assert handled == Counter(poison=1, fine=1) and attempts["poison"] == SPEC.max_deliver + 1
        assert await _dlq_size(nc) == 0
        assert (await _json(nats_url, "dlq", "list"))["total"] == 0

        [again] = await _json(nats_url, "dlq", "replay", str(seq))  # idempotent: nothing left to replay
        assert again["outcome"] == "not in the DLQ"
        missing = await _cli(nats_url, "dlq", "show", str(seq))
        assert missing.exit_code == 1 and f"no dead letter {seq}" in missing.output

        report = await _json(nats_url, "streams")
        by_name = {s["name"]: s for s in report["streams"]}
        assert report["missing"] == [] and set(by_name) == {s.name for s in streams.ALL_STREAMS}
        datasets = by_name["DATASETS"]
        assert datasets["messages"] == 3 and datasets["first_seq"] == 1 and datasets["last_seq"] == 3
        [durable] = datasets["durables"]
        assert durable["name"] == SPEC.durable and durable["filter_subject"] == "dataset.>"
        assert durable["pending"] == 0 and durable["ack_pending"] == 0 and durable["redelivered"] == 0
        assert durable["ack_floor"] == 3 and durable["last_delivered"] == 3
        assert durable["max_deliver"] == SPEC.max_deliver and durable["ack_wait_s"] == SPEC.ack_wait_s
        assert durable["waiting_pulls"] >= 0
        dlq = by_name["DLQ"]
        assert dlq["messages"] == 0 and dlq["last_seq"] == 1 and dlq["durables"] == []
        table = await _cli(nats_url, "streams")
        assert table.exit_code == 0 and SPEC.durable in table.stdout and "DATASETS" in table.stdout


async def test_the_consumer_numbers_show_a_backlog(nats_url: str, nc: NatsClient) -> None:
    """Before any consumer runs, `streams` shows what is waiting for it; no consumer, no durables."""
    await jetstream.ensure_consumer(nc.jetstream(), SPEC)
    for i in range(4):
        await _publish(nc, _created(f"d{i}"))
    report = await _json(nats_url, "streams")
    [datasets] = [s for s in report["streams"] if s["name"] == "DATASETS"]
    [durable] = datasets["durables"]
    assert durable["pending"] == 4 and durable["ack_pending"] == 0 and durable["last_delivered"] == 0
    assert datasets["consumers"] == 1 and datasets["messages"] == 4


async def test_replay_all_by_subject_and_a_replay_that_stopped_before_its_delete(nats_url: str, nc: NatsClient) -> None:
    """A replay that published and then died is finished by the next one without a second copy (same Nats-Msg-Id,
    JetStream drops it); `--all` stops at the DLQ's end at its start, so an event dead-lettered again at once (still
    undecodable) is not replayed in a loop, and its new dead letter is not lost to the DLQ's duplicate window."""
    broken = True
    handled: Counter[str] = Counter()
    broker = NatsBroker(nats_url, logger=None)
    spec = ConsumerSpec("DATASETS", "ops-all", "dataset.>", ack_wait_s=1.0, max_deliver=1, backoff_s=())

    @event_consumer(broker, spec)
    async def handle(event: Event) -> None:
        if broken:
            raise RuntimeError("broken")
        handled[event.event_type] += 1

    created, archived = _created("a"), _archived()
    async with consuming(broker, nc):
        await _publish(nc, created)
        await _publish(nc, archived)
        await nc.jetstream().publish("dataset.created", b"{not json", headers={MSG_ID_HEADER: "raw-1"})
        await _eventually(lambda: _size_is(nc, 3), 10)

        only_created = await _json(nats_url, "dlq", "list", "--subject", "dataset.created")
        assert [d["seq"] for d in only_created["dead_letters"]] == [1, 3] and only_created["total"] == 3
        raw = await _json(nats_url, "dlq", "show", "3")
        assert raw["event"] is None and raw["payload"] == "{not json" and raw["reason"].startswith("undecodable")
        assert raw["event_type"] is None and raw["decode_error"]
        limited = await _json(nats_url, "dlq", "list", "--limit", "1")
        assert [d["seq"] for d in limited["dead_letters"]] == [1]

        # a replay of seq 2 that published, then stopped before deleting it from the DLQ
        msg = await nc.jetstream().get_msg(streams.DLQ.name, 2)
        headers = ops.replay_headers(msg)
        assert headers[MSG_ID_HEADER] == f"{archived.event_id}:replay:2"
        assert not any(k.startswith(ops.DLQ_HEADER_PREFIX) for k in headers) and "Nats-Expected-Stream" not in headers
        broken = False
        await nc.jetstream().publish("dataset.archived", msg.data or b"", headers=headers)
        await _eventually(lambda: handled["DatasetArchived"] == 1, 10)

        dry = await _json(nats_url, "dlq", "replay", "--all", "--subject", "dataset.created", "--dry-run")
        assert [(r["seq"], r["outcome"]) for r in dry] == [(1, "would replay"), (3, "would replay")]
        assert await _dlq_size(nc) == 3

        done = await _json(nats_url, "dlq", "replay", "--all")
        assert [(r["seq"], r["outcome"]) for r in done] == [
            (1, "replayed"),
            (2, "already published"),
            (3, "replayed"),
        ]
        await _eventually(lambda: handled["DatasetCreated"] == 1, 10)
        await _eventually(lambda: _size_is(nc, 1), 10)  # the undecodable one, dead-lettered again
        await asyncio.sleep(spec.ack_wait_s + 0.5)
        assert handled == Counter(DatasetCreated=1, DatasetArchived=1)
        [again] = (await _json(nats_url, "dlq", "list"))["dead_letters"]
        assert again["seq"] == 4 and again["subject"] == "dataset.created" and again["reason"].startswith("undecodable")
        redead = await nc.jetstream().get_msg(streams.DLQ.name, 4)
        assert (redead.headers or {})[MSG_ID_HEADER] == "raw-1:replay:3:ops-all"  # not lost to the DLQ's dedup


def test_no_stack_exits_2_and_replay_needs_seqs_or_all(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MODELYARD_NATS_URL", raising=False)
    for args in (["streams"], ["dlq", "list"], ["dlq", "show", "1"], ["dlq", "replay", "1"]):
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 2 and "no stack found" in result.output, (args, result.output)
    for args in (["dlq", "replay"], ["dlq", "replay", "1", "--all"], ["dlq", "replay", "1", "--subject", "x.>"]):
        result = CliRunner().invoke(app, args, env={"MODELYARD_NATS_URL": "nats://127.0.0.1:1"})
        assert result.exit_code == 2 and "Usage" in result.output, (args, result.output)


def test_unreachable_nats_exits_1_with_a_message() -> None:
    result = CliRunner().invoke(app, ["dlq", "list"], env={"MODELYARD_NATS_URL": "nats://127.0.0.1:1"})
    assert result.exit_code == 1 and "cannot talk to NATS" in result.output and "Traceback" not in result.output
