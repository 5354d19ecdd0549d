"""The `modelyard` command: `dev up` runs the local stack; `events tail` follows a stream; `datasets ...` manages
datasets and uploads (datasets_cli.py); `models ...` the model registry (models_cli.py); `devices ...`, `deploy` and
`deployments ...` edge distribution (devices_cli.py); `streams` and `dlq ...` JetStream health and the
dead-letter queue (ops_cli.py); `audit list|tail` the audit trail (audit_cli.py); `orgs`, `users`, `keys` and
`token` organisations, users, API keys and access tokens (access_cli.py)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from modelyard.client import access_cli, devices_cli, devstack, ops_cli, stackfile, training_cli
from modelyard.client.audit_cli import audit_app
from modelyard.client.datasets_cli import datasets_app
from modelyard.client.devices_cli import deployments_app, devices_app
from modelyard.client.events import tail
from modelyard.client.models_cli import models_app
from modelyard.client.training_cli import jobs_app
from modelyard.contracts.envelope import Event

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Modelyard operator command line.")
dev_app = typer.Typer(no_args_is_help=True, help="The local development stack.")
events_app = typer.Typer(no_args_is_help=True, help="Inspect the event streams.")
app.add_typer(dev_app, name="dev")
app.add_typer(events_app, name="events")
app.add_typer(datasets_app, name="datasets")
app.add_typer(jobs_app, name="jobs")
app.add_typer(models_app, name="models")
app.add_typer(devices_app, name="devices")
app.add_typer(deployments_app, name="deployments")
app.command("train")(training_cli.train)
app.command("trainer")(training_cli.trainer)
app.command("deploy")(devices_cli.deploy)
app.command("streams")(ops_cli.streams)
app.add_typer(ops_cli.dlq_app, name="dlq")
app.add_typer(audit_app, name="audit")
app.add_typer(access_cli.orgs_app, name="orgs")
app.add_typer(access_cli.users_app, name="users")
app.add_typer(access_cli.keys_app, name="keys")
app.command("token")(access_cli.token)


@app.command(
    "edge-agent", context_settings={"allow_extra_args": True, "ignore_unknown_options": True, "help_option_names": []}
)
def edge_agent(ctx: typer.Context) -> None:
    """Run an edge agent (python -m modelyard.edge) in this terminal; `modelyard edge-agent --help` for options."""
    argv = [sys.executable, "-m", "modelyard.edge", *ctx.args]
    os.execv(sys.executable, argv)  # noqa: S606 - our own module, no shell


err = Console(stderr=True, soft_wrap=True)


@dev_app.command("up")
def dev_up(
    root: Annotated[Path, typer.Option(help="data folder, kept across restarts")] = stackfile.DEFAULT_ROOT,
    host: Annotated[str, typer.Option(help="gateway address")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="gateway port (0: any free port)")] = 8080,
) -> None:
    """Start nats-server, PostgreSQL, S3 and every service; Ctrl-C or SIGTERM stops them all."""
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stack = devstack.DevStack(root.resolve(), gateway_host=host, gateway_port=devstack.pick_gateway_port(port))
    try:
        with err.status("starting the stack..."):
            info = stack.start()
        token = (stack.root / stackfile.TOKEN_FILE).read_text().strip()
        err.print(f"[bold green]Modelyard is up[/] (data in {stack.root})")
        err.print(f"  gateway  {info.gateway}\n  nats     {info.nats}\n  s3       {info.s3}")
        err.print(f"  admin key in {stack.root / stackfile.TOKEN_FILE}: {token}")
        err.print(f"  logs in {stack.root / 'logs'}; Ctrl-C to stop")
        while not stop.wait(0.5):
            dead = [name for name, proc in stack.services.items() if not proc.running]
            if dead:
                err.print(f"[red]service stopped unexpectedly: {', '.join(dead)}; see {stack.root / 'logs'}[/]")
                raise typer.Exit(1)
    finally:
        with err.status("stopping..."):
            stack.stop()
        err.print("stopped")


@events_app.command("tail")
def events_tail(
    subject: Annotated[str, typer.Argument(help="subject or wildcard, e.g. 'dataset.>'")],
    from_start: Annotated[bool, typer.Option("--from-start", help="replay the stream from its first message")] = False,
    limit: Annotated[int | None, typer.Option(help="exit after this many events", min=1)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object per line")] = False,
) -> None:
    """Print typed events as they arrive on SUBJECT."""
    target = stackfile.resolve()
    if not target.nats_url:
        err.print("[red]no stack found[/]: run `modelyard dev up`, or set MODELYARD_NATS_URL")
        raise typer.Exit(2)
    out = Console(soft_wrap=True, highlight=False)

    async def follow() -> None:
        async for subj, item in tail(target.nats_url or "", subject, from_start=from_start, limit=limit):
            if as_json:
                line = item.model_dump_json() if isinstance(item, Event) else item.decode(errors="replace")
                sys.stdout.write(line + "\n")
                sys.stdout.flush()
            elif isinstance(item, Event):
                fields = item.model_dump(mode="json", exclude=set(Event.model_fields))
                out.print(f"{item.occurred_at:%H:%M:%S}  [cyan]{subj}[/]  [bold]{item.event_type}[/]  {fields}")
            else:
                out.print(f"[yellow]{subj}[/]  (not a Modelyard event) {item[:200]!r}")

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(follow())


def main() -> None:
    app()
