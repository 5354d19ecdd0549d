"""`modelyard streams` and `modelyard dlq list|show|replay`: JetStream health and the dead-letter queue, straight
from NATS (no gateway needed; the logic is in ops.py). Payloads are plain JSON, so the stock `nats` CLI reads them
too; these commands add the decoding, the DLQ headers and a safe replay.

Like `events tail` they find NATS with `stackfile.resolve()` (`.modelyard/stack.json` or MODELYARD_NATS_URL); no
stack exits 2, NATS unreachable or the DLQ stream missing exits 1, a replay that failed for any seq exits 1.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, TypeVar

import typer
from nats.errors import Error as NatsError
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from rich.markup import escape
from rich.table import Table

from modelyard.client import ops, stackfile
from modelyard.client.cli_support import err, print_json, stdout
from modelyard.contracts.streams import DLQ

T = TypeVar("T")

dlq_app = typer.Typer(
    no_args_is_help=True, help="The dead-letter queue: events that exhausted MaxDeliver. List, show, replay."
)
OUTCOME_COLOURS = {
    ops.ReplayOutcome.REPLAYED: "green",
    ops.ReplayOutcome.ALREADY_PUBLISHED: "green",
    ops.ReplayOutcome.DRY_RUN: "cyan",
    ops.ReplayOutcome.NOT_FOUND: "yellow",
    ops.ReplayOutcome.FAILED: "red",
}


def _run(work: Callable[[JetStreamContext], Awaitable[T]]) -> T:
    """Run `work` on a JetStream connection to the resolved stack; errors become messages and exit codes."""
    url = stackfile.resolve().nats_url
    if not url:
        err.print("[red]no stack found[/]: run `modelyard dev up`, or set MODELYARD_NATS_URL")
        raise typer.Exit(2)

    async def go() -> T:
        async with ops.connected(url) as js:
            return await work(js)

    try:
        return asyncio.run(go())
    except NotFoundError:
        err.print(f"[red]no {DLQ.name} stream on {escape(url)}[/]: no service has declared the streams yet")
        raise typer.Exit(1) from None
    except (NatsError, OSError, TimeoutError) as exc:
        err.print(f"[red]cannot talk to NATS at {escape(url)}[/]: {escape(str(exc) or type(exc).__name__)}")
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        err.print("[yellow]interrupted[/]")
        raise typer.Exit(130) from None


def _when(moment: datetime | None) -> str:
    return f"{moment.astimezone():%Y-%m-%d %H:%M:%S}" if moment else "-"


def _size(count: int) -> str:
    size = float(count)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


# -- streams ------------------------------------------------------------------------------------------------------


def streams(as_json: Annotated[bool, typer.Option("--json", help="print the report as JSON")] = False) -> None:
    """Each stream's size and sequence range, and each durable consumer's backlog: pending (not yet delivered),
    ack pending (delivered, unacknowledged), redelivered, ack floor and last delivered (stream seqs), waiting pulls."""
    report = _run(ops.streams_report)
    if as_json:
        print_json(report)
        return
    out = stdout()
    table = Table(show_edge=False, pad_edge=False)
    for name in ("stream / consumer", "filter", "messages", "bytes", "first", "last", "consumers"):
        table.add_column(name, justify="left" if name in ("stream / consumer", "filter") else "right")
    for name in ("pending", "ack pending", "redelivered", "ack floor", "delivered", "waiting"):
        table.add_column(name, justify="right")
    for s in report.streams:
        table.add_row(
            f"[bold]{escape(s.name)}[/]", escape(", ".join(s.subjects)), str(s.messages), _size(s.bytes),
            str(s.first_seq), str(s.last_seq), str(s.consumers),
            *([""] * 6),
        )  # fmt: skip
        for i, c in enumerate(s.durables):
            table.add_row(
                f"  {escape(c.name)}", escape(c.filter_subject or ""), "", "", "", "", "",
                f"[yellow]{c.pending}[/]" if c.pending else "0",
                f"[yellow]{c.ack_pending}[/]" if c.ack_pending else "0",
                f"[red]{c.redelivered}[/]" if c.redelivered else "0",
                str(c.ack_floor), str(c.last_delivered), str(c.waiting_pulls),
                end_section=i == len(s.durables) - 1,
            )  # fmt: skip
    out.print(table)
    if report.missing:
        out.print(f"[dim]not declared yet: {', '.join(report.missing)}[/]")


# -- dlq ----------------------------------------------------------------------------------------------------------


@dlq_app.command("list")
def dlq_list(
    subject: Annotated[
        str | None, typer.Option("--subject", help="only dead letters whose ORIGINAL subject matches, e.g. 'job.>'")
    ] = None,
    limit: Annotated[int, typer.Option(help="at most this many, oldest first", min=1)] = 100,
    as_json: Annotated[bool, typer.Option("--json", help="print the list as JSON")] = False,
) -> None:
    """The dead letters, oldest first: DLQ seq, original subject, event type, consumer, deliveries, reason, time."""
    page = _run(lambda js: ops.list_dead_letters(js, subject, limit))
    if as_json:
        print_json(page)
        return
    out = stdout()
    table = Table(show_edge=False, pad_edge=False)
    table.add_column("seq", justify="right", no_wrap=True)
    table.add_column("subject", overflow="fold")
    table.add_column("event type", overflow="fold")
    table.add_column("consumer", overflow="fold")
    table.add_column("deliveries", justify="right")
    table.add_column("reason", overflow="fold", ratio=1)
    table.add_column("dead-lettered", no_wrap=True)
    for d in page.dead_letters:
        table.add_row(
            str(d.seq),
            escape(d.subject),
            escape(d.event_type or "-"),
            escape(d.consumer or "-"),
            str(d.deliveries) if d.deliveries is not None else "-",
            escape(d.reason or "-"),
            _when(d.time),
        )
    if page.dead_letters:
        out.print(table)
    out.print(f"{len(page.dead_letters)} shown, {page.total} in the DLQ")


@dlq_app.command("show")
def dlq_show(
    seq: Annotated[int, typer.Argument(metavar="SEQ", help="DLQ sequence number (from `dlq list`)", min=1)],
    as_json: Annotated[bool, typer.Option("--json", help="print the dead letter as JSON")] = False,
) -> None:
    """One dead letter: its headers and its event, decoded (or the raw payload, when it is not a valid event)."""
    letter = _run(lambda js: ops.get_dead_letter(js, seq))
    if letter is None:
        err.print(f"[red]no dead letter {seq}[/] (replayed, deleted or aged out?)")
        raise typer.Exit(1)
    if as_json:
        print_json(letter)
        return
    out = stdout()
    out.print(f"dead letter [bold]{letter.seq}[/] from [cyan]{escape(letter.subject)}[/], {_when(letter.time)}")
    if letter.consumer:
        out.print(f"  consumer    {escape(letter.consumer)} after {letter.deliveries or '?'} deliveries")
    out.print(f"  reason      [red]{escape(letter.reason or '-')}[/]")
    out.print("headers")
    for key, value in sorted(letter.headers.items()):
        out.print(f"  {escape(key)}: {escape(value)}")
    if letter.event is not None:
        out.print(f"event [bold]{escape(letter.event_type or '')}[/]")
        out.print(escape(json.dumps(letter.event, indent=2)))
    else:
        out.print(f"[yellow]payload (not a valid event: {escape(letter.decode_error or '')})[/]")
        out.print(escape(letter.payload or ""))


@dlq_app.command("replay")
def dlq_replay(
    seqs: Annotated[list[int] | None, typer.Argument(metavar="SEQ...", help="DLQ sequence numbers", min=1)] = None,
    replay_all: Annotated[bool, typer.Option("--all", help="every dead letter (present at the start)")] = False,
    subject: Annotated[
        str | None, typer.Option("--subject", help="with --all: only those whose original subject matches")
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="say what would be replayed, change nothing")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print the outcomes as JSON")] = False,
) -> None:
    """Republish dead letters to their original subjects (payload and headers as they were, a new Nats-Msg-Id), then
    delete each from the DLQ once the publish is acknowledged. Safe to repeat: a replayed seq is gone from the DLQ.
    Every consumer of the subject sees the event again; those that handled it already skip it by event id."""
    if bool(seqs) == replay_all:
        raise typer.BadParameter("give either SEQ... or --all", param_hint="SEQ... / --all")
    if subject and not replay_all:
        raise typer.BadParameter("--subject goes with --all", param_hint="--subject")
    if replay_all:
        done = _run(lambda js: ops.replay_all(js, subject, dry_run=dry_run))
    else:
        done = _run(lambda js: ops.replay(js, seqs or [], dry_run=dry_run))
    if as_json:
        sys.stdout.write(json.dumps([r.model_dump(mode="json") for r in done], indent=2) + "\n")
    else:
        out = stdout()
        for r in done:
            line = f"{r.seq:>6}  [{OUTCOME_COLOURS[r.outcome]}]{r.outcome.value}[/]"
            if r.subject:
                line += f"  {escape(r.subject)}  msg-id {escape(r.msg_id or '')}"
            if r.stream_seq is not None:
                line += f"  → {escape(r.stream or '')} seq {r.stream_seq}"
            if r.error:
                line += f"  [red]{escape(r.error)}[/]"
            out.print(line)
        if not done:
            out.print("nothing to replay")
    if any(r.outcome is ops.ReplayOutcome.FAILED for r in done):
        raise typer.Exit(1)
