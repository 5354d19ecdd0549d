"""`modelyard audit list|tail`: the audit trail, who did what across every service.

`list` reads the gateway's projection (`GET /api/v1/audit`, admins only, the caller's org); `tail` follows the AUDIT
stream on NATS as records arrive, like `events tail`, so it works while the gateway is down and shows every org (an
operator's view: NATS access is the permission). Both show actions in the same canonical `<resource>.<verb>` form
(contracts.api.audit), so an `--action` pattern selects the same entries in both.
"""

from __future__ import annotations

import asyncio
import re
import sys
from collections.abc import AsyncGenerator, AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer
from nats.errors import Error as NatsError
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from modelyard.client import stackfile
from modelyard.client.cli_support import err, print_json, run, stdout
from modelyard.client.events import tail
from modelyard.contracts import subjects
from modelyard.contracts.api.audit import AuditEvent, action_matches
from modelyard.contracts.events import AuditRecorded, UserCreated

audit_app = typer.Typer(no_args_is_help=True, help="The audit trail: who did what, in every service.")
_AGO = re.compile(r"^(\d+)([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_moment(text: str) -> datetime:
    """`--since`: an ISO 8601 time (UTC when it has no zone) or a span back from now: 30s, 15m, 2h, 7d."""
    ago = _AGO.match(text.strip())
    if ago:
        return datetime.now(UTC) - timedelta(**{_UNITS[ago[2]]: int(ago[1])})
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise typer.BadParameter(f"{text!r} is neither an ISO 8601 time nor a span like 15m, 2h, 7d") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _line(entry: AuditEvent) -> str:
    return (
        f"{entry.occurred_at.astimezone():%Y-%m-%d %H:%M:%S}  {escape(entry.actor)}  [bold]{escape(entry.action)}[/]"
        f"  {escape(entry.resource_type)}:{escape(entry.resource_id)}  {escape(entry.summary)}"
    )


@audit_app.command("list")
def list_(
    actor: Annotated[str | None, typer.Option(help="only this actor, e.g. user:<id>")] = None,
    action: Annotated[str | None, typer.Option(help="an action, or a prefix ending in * (model.*)")] = None,
    resource_type: Annotated[str | None, typer.Option(help="only this kind of resource (dataset, model, ...)")] = None,
    resource_id: Annotated[str | None, typer.Option(help="only this resource")] = None,
    since: Annotated[str | None, typer.Option(help="ISO 8601 time, or a span back from now: 15m, 2h, 7d")] = None,
    limit: Annotated[int, typer.Option(help="at most this many", min=1, max=500)] = 50,
    offset: Annotated[int, typer.Option(help="skip this many", min=0)] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="print the page as JSON")] = False,
) -> None:
    """The organisation's audit trail from the gateway, newest first (org_admin and super_admin)."""
    moment = parse_moment(since) if since else None
    page = run(
        lambda api: api.list_audit(
            actor=actor,
            action=action,
            resource_type=resource_type,
            resource_id=resource_id,
            since=moment,
            limit=limit,
            offset=offset,
        )
    )
    if as_json:
        print_json(page)
        return
    out = stdout()
    table = Table(show_edge=False, pad_edge=False)
    table.add_column("time", no_wrap=True)
    table.add_column("actor", overflow="fold")
    table.add_column("action", no_wrap=True)
    table.add_column("resource", overflow="fold")
    table.add_column("summary", overflow="fold")
    table.add_column("correlation", overflow="fold")
    for entry in page.events:
        table.add_row(
            f"{entry.occurred_at.astimezone():%Y-%m-%d %H:%M:%S}",
            escape(entry.actor),
            escape(entry.action),
            f"{escape(entry.resource_type)}:{escape(entry.resource_id)}",
            escape(entry.summary),
            escape(entry.correlation_id),
        )
    if page.events:
        out.print(table)
    shown = f"{offset + 1}-{offset + len(page.events)} of " if page.events else "none of "
    out.print(f"{shown}{page.total} audit event{'s' if page.total != 1 else ''}")


async def follow(
    nats_url: str, pattern: str | None = None, *, from_start: bool = False, limit: int | None = None
) -> AsyncIterator[AuditEvent]:
    """Audit entries from the AUDIT stream as they arrive (from its start with `from_start`), those whose action
    matches `pattern` (exact, or a prefix ending in *), until `limit` of them."""
    seen = 0
    items = tail(nats_url, subjects.AUDIT_ALL, from_start=from_start)
    try:
        async for _, item in items:
            if not isinstance(item, AuditRecorded | UserCreated):
                continue
            entry = AuditEvent.of(item)
            if pattern is not None and not action_matches(pattern, entry.action):
                continue
            yield entry
            seen += 1
            if limit is not None and seen >= limit:
                return
    finally:
        if isinstance(items, AsyncGenerator):  # close the NATS connection now, not when the loop shuts down
            await items.aclose()


@audit_app.command("tail")
def tail_(
    action: Annotated[
        str | None, typer.Option("--action", metavar="PATTERN", help="an action, or a prefix ending in * (model.*)")
    ] = None,
    from_start: Annotated[bool, typer.Option("--from-start", help="replay the stream from its first record")] = False,
    limit: Annotated[int | None, typer.Option(help="exit after this many records", min=1)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object per line")] = False,
) -> None:
    """Print audit records live from the AUDIT stream: time, actor, action, resource, summary."""
    url = stackfile.resolve().nats_url
    if not url:
        err.print("[red]no stack found[/]: run `modelyard dev up`, or set MODELYARD_NATS_URL")
        raise typer.Exit(2)
    out = Console(soft_wrap=True, highlight=False)

    async def show() -> None:
        async for entry in follow(url, action, from_start=from_start, limit=limit):
            if as_json:
                sys.stdout.write(entry.model_dump_json() + "\n")
                sys.stdout.flush()
            else:
                out.print(_line(entry))

    try:
        asyncio.run(show())
    except KeyboardInterrupt:
        pass
    except (NatsError, OSError, TimeoutError) as exc:
        err.print(f"[red]cannot talk to NATS at {escape(url)}[/]: {escape(str(exc) or type(exc).__name__)}")
        raise typer.Exit(1) from None
