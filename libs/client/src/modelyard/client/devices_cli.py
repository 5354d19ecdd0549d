"""`modelyard devices ...`, `modelyard deploy` and `modelyard deployments ...`: edge distribution. List and enroll
devices, deploy a released model version to one device, a label selector or every device in waves (a canary first),
and follow, pause and resume the rollouts.

Waves are shown counted from 1 (the API counts them from 0). Like every command group it finds the gateway with
`stackfile.resolve()`; an API error prints its ProblemDetails and exits 1, no stack exits 2.
"""

from __future__ import annotations

import shlex
from typing import Annotated
from uuid import UUID

import typer
from rich.console import Console, Group
from rich.live import Live
from rich.markup import escape
from rich.table import Table

from modelyard.client import cli_support
from modelyard.client.api import ModelyardClient
from modelyard.client.cli_support import err, print_json, run, stdout
from modelyard.contracts.api.devices import Deployment, DeploymentStatus, Device, DeviceDeployStatus

devices_app = typer.Typer(no_args_is_help=True, help="Edge devices: list them, enroll new ones.")
deployments_app = typer.Typer(
    no_args_is_help=True, help="Deployments of released models to edge devices: list, show and watch, pause, resume."
)

STATUS_COLOURS = {
    "rolling": "cyan",
    "paused": "yellow",
    "completed": "green",
    "failed": "red",
    "aborted": "bold red",
}
DEVICE_COLOURS = {
    "waiting": "dim",
    "pending": "cyan",
    "downloading": "cyan",
    "installing": "cyan",
    "completed": "green",
    "failed": "red",
    "skipped": "yellow",
}
AGENT_STATE_DIR = "./edge"  # where the printed `modelyard edge-agent` command keeps the device's identity
STOPPED_WATCHING = "stopped watching; the deployment goes on (modelyard deployments show ID --watch)"


def _status(status: DeploymentStatus) -> str:
    return f"[{STATUS_COLOURS.get(status.value, 'white')}]{status.value}[/]"


def _device_status(status: DeviceDeployStatus) -> str:
    return f"[{DEVICE_COLOURS.get(status.value, 'white')}]{status.value}[/]"


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'s' if count != 1 else ''}"


def _label_pairs(pairs: list[str], hint: str) -> dict[str, str]:
    """`["site=a", "tier=edge"]` → {"site": "a", "tier": "edge"}."""
    labels: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise typer.BadParameter(f"{pair!r} is not key=value", param_hint=hint)
        labels[key.strip()] = value.strip()
    return labels


def _labels_text(labels: dict[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(labels.items())) or "-"


def _active_text(device: Device) -> str:
    return ", ".join(f"{m} {a.version}#{a.counter}" for m, a in sorted(device.active.items())) or "-"


# -- devices ------------------------------------------------------------------------------------------------------


@devices_app.command("list")
def list_devices(
    label: Annotated[str | None, typer.Option("--label", help="only devices with this key=value label")] = None,
    limit: Annotated[int, typer.Option(help="at most this many", min=1, max=500)] = 50,
    offset: Annotated[int, typer.Option(help="skip this many", min=0)] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="print the page as JSON")] = False,
) -> None:
    """List the enrolled devices by name: platform, labels, last heartbeat, the models they serve."""
    if label is not None:
        _label_pairs([label], "--label")
    page = run(lambda api: api.list_devices(label=label, limit=limit, offset=offset))
    if as_json:
        print_json(page)
        return
    out = stdout()
    table = Table(show_edge=False, pad_edge=False)
    table.add_column("name", overflow="fold")
    table.add_column("id", no_wrap=True, min_width=36)
    table.add_column("platform / hardware", overflow="fold")
    table.add_column("labels", overflow="fold")
    table.add_column("last heartbeat", no_wrap=True)
    table.add_column("active models", overflow="fold")
    for d in page.devices:
        heartbeat = f"{d.last_heartbeat_at:%Y-%m-%d %H:%M:%S}" if d.last_heartbeat_at else "never"
        if d.health and d.health != "ok":
            heartbeat += f" ({d.health})"
        table.add_row(
            escape(d.name),
            str(d.id),
            escape(f"{d.platform} / {d.hardware}"),
            escape(_labels_text(d.labels)),
            escape(heartbeat),
            escape(_active_text(d)),
        )
    if page.devices:
        out.print(table)
    shown = f"{offset + 1}-{offset + len(page.devices)} of " if page.devices else "none of "
    out.print(f"{shown}{_plural(page.total, 'device')}")


@devices_app.command("show")
def show_device(
    device_id: Annotated[UUID, typer.Argument(metavar="ID", help="device id")],
    as_json: Annotated[bool, typer.Option("--json", help="print the device as JSON")] = False,
) -> None:
    """A device: its identity, labels, last heartbeat and the models it serves."""
    d = run(lambda api: api.get_device(device_id))
    if as_json:
        print_json(d)
        return
    out = stdout()
    out.print(f"device [bold]{escape(d.name)}[/] {d.id}")
    rows = [
        ("hardware", f"{d.hardware_id} ({d.platform} / {d.hardware})"),
        ("labels", _labels_text(d.labels)),
        ("enrolled", f"{d.enrolled_at:%Y-%m-%d %H:%M:%S}"),
        ("heartbeat", f"{d.last_heartbeat_at:%Y-%m-%d %H:%M:%S}" if d.last_heartbeat_at else "never"),
        ("health", d.health or "-"),
        ("agent", d.agent_version or "-"),
        ("active", _active_text(d)),
    ]
    for name, value in rows:
        out.print(f"  {name:<10} {escape(value)}")


@devices_app.command("enroll")
def enroll(
    label: Annotated[
        list[str] | None, typer.Option("--label", help="key=value the enrolled device gets (repeatable)")
    ] = None,
    expires_in_hours: Annotated[
        int | None, typer.Option(help="the token expires after this many hours (server default 24)", min=1, max=720)
    ] = None,
    name: Annotated[str, typer.Option("--name", help="the device name to put in the printed agent command")] = "NAME",
    as_json: Annotated[bool, typer.Option("--json", help="print the token as JSON")] = False,
) -> None:
    """Create a one-time enrollment token and print the command that starts an edge agent with it."""
    labels = _label_pairs(label or [], "--label")
    found = cli_support.target()
    token = run(lambda api: api.create_enrollment_token(labels=labels or None, expires_in_hours=expires_in_hours))
    if as_json:
        print_json(token)
        return
    out = stdout()
    out.print(f"enrollment token (shown once; one device enrolls with it until {token.expires_at:%Y-%m-%d %H:%M:%S}):")
    out.print(f"  {escape(token.token)}", soft_wrap=True)
    out.print(f"labels  {escape(_labels_text(token.labels))}")
    command = [
        "modelyard",
        "edge-agent",
        "--state-dir",
        AGENT_STATE_DIR,
        "--name",
        name,
        "--gateway",
        found.gateway_url or "GATEWAY_URL",
        "--enrollment-token",
        token.token,
        "--nats-url",
        found.nats_url or "NATS_URL",
    ]
    out.print("start an edge agent with it:")
    out.print(f"  {escape(shlex.join(command))}", soft_wrap=True)
    if not found.nats_url:
        err.print("[yellow]the NATS URL is unknown here: set MODELYARD_NATS_URL, or fill in NATS_URL[/]")


# -- deployments: rendering ----------------------------------------------------------------------------------------


def _deployment_line(d: Deployment) -> str:
    done = sum(1 for x in d.devices if x.status.final)
    return (
        f"deployment [bold]{d.id}[/] {escape(d.ai_module)} {escape(d.version)}#{d.counter}: {_status(d.status)}, "
        f"wave {min(d.current_wave + 1, d.waves)}/{d.waves}, {done}/{_plural(len(d.devices), 'device')} done, "
        f"{_plural(d.failures, 'failure')} (threshold {d.failure_threshold})"
    )


def _devices_table(d: Deployment) -> Table:
    table = Table(show_edge=False, pad_edge=False)
    table.add_column("name", overflow="fold")
    table.add_column("wave", justify="right", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("error", overflow="fold")
    for x in sorted(d.devices, key=lambda x: (x.wave, x.name)):
        table.add_row(escape(x.name), str(x.wave + 1), _device_status(x.status), escape(x.error or ""))
    return table


def _deployment_view(d: Deployment) -> Group:
    return Group(_deployment_line(d), _devices_table(d))


def _print_deployment(out: Console, d: Deployment) -> None:
    out.print(_deployment_line(d))
    out.print(f"  model {d.model_id}, by {escape(d.created_by)}, created {d.created_at:%Y-%m-%d %H:%M:%S}")
    if d.devices:
        out.print(_devices_table(d))


async def _watch(api: ModelyardClient, deployment_id: UUID, out: Console) -> Deployment:
    """A live view (the summary and the per-device table) until the deployment ends; on a console that is not a
    terminal, a summary line per change and the table at the end. Returns the last state."""
    updates = api.watch_deployment(deployment_id)
    last: Deployment | None = None
    if out.is_terminal:
        with Live(console=out, auto_refresh=False) as live:
            async for last in updates:
                live.update(_deployment_view(last), refresh=True)
    else:
        async for last in updates:
            out.print(_deployment_line(last))
        if last is not None and last.devices:
            out.print(_devices_table(last))
    assert last is not None  # watch_deployment yields at least once
    return last


async def _final(api: ModelyardClient, deployment_id: UUID) -> Deployment:
    """Wait, quietly, until the deployment ends (for --json: only the last state is printed)."""
    last: Deployment | None = None
    async for state in api.watch_deployment(deployment_id):
        last = state
    assert last is not None  # watch_deployment yields at least once
    return last


def _exit_for(d: Deployment) -> None:
    if d.status in (DeploymentStatus.FAILED, DeploymentStatus.ABORTED):
        raise typer.Exit(1)


# -- deploy -------------------------------------------------------------------------------------------------------


async def _device_by_name(api: ModelyardClient, name: str) -> UUID:
    matches: list[Device] = []
    offset = 0
    while True:
        page = await api.list_devices(limit=500, offset=offset)
        matches += [d for d in page.devices if d.name == name]
        offset += len(page.devices)
        if not page.devices or offset >= page.total:
            break
    if len(matches) == 1:
        return matches[0].id
    if not matches:
        err.print(f"[red]no device named {escape(name)!r}[/]: see `modelyard devices list`")
    else:
        ids = ", ".join(str(d.id) for d in matches)
        err.print(f"[red]{len(matches)} devices are named {escape(name)!r}[/]: give one by id ({ids})")
    raise typer.Exit(1)


def deploy(
    model_id: Annotated[UUID, typer.Argument(metavar="MODEL_ID", help="the released model version to deploy")],
    to: Annotated[
        list[str] | None,
        typer.Option(
            "--to",
            metavar="TARGET",
            help="exactly one of: all, device:<id or name>, label:k=v (label:k=v,k2=v2 for several labels)",
        ),
    ] = None,
    canary: Annotated[int | None, typer.Option(help="devices in the first wave", min=1)] = None,
    canary_percent: Annotated[
        float | None, typer.Option(help="percent of the devices in the first wave (rounded up)", min=0, max=100)
    ] = None,
    wave_size: Annotated[
        int | None, typer.Option(help="devices per wave after the canary (default: all at once)", min=1)
    ] = None,
    failure_threshold: Annotated[
        int | None, typer.Option(help="failed devices tolerated before the rollout aborts (default 0)", min=0)
    ] = None,
    watch_: Annotated[bool, typer.Option("--watch", help="follow the rollout live until it ends")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print the deployment as JSON")] = False,
) -> None:
    """Deploy a released model version to edge devices, in waves: the canary first, then --wave-size at a time."""
    targets = to or []
    if len(targets) != 1:
        raise typer.BadParameter("give exactly one --to: all, device:<id or name> or label:k=v", param_hint="--to")
    if canary is not None and canary_percent is not None:
        raise typer.BadParameter("give --canary or --canary-percent, not both", param_hint="--canary")
    kind, _, value = targets[0].partition(":")
    labels: dict[str, str] | None = None
    device_ref: str | None = None
    if kind == "all" and not value:
        pass
    elif kind == "label" and value:
        labels = _label_pairs(value.split(","), "--to")
    elif kind == "device" and value.strip():
        device_ref = value.strip()
    else:
        raise typer.BadParameter(f"{targets[0]!r}: use all, device:<id or name> or label:k=v", param_hint="--to")
    out = stdout()

    async def go(api: ModelyardClient) -> Deployment:
        device: UUID | None = None
        if device_ref is not None:
            try:
                device = UUID(device_ref)
            except ValueError:
                device = await _device_by_name(api, device_ref)
        made = await api.create_deployment(
            model_id,
            device=device,
            labels=labels,
            all_devices=device is None and labels is None,
            canary=canary,
            canary_percent=canary_percent,
            wave_size=wave_size,
            failure_threshold=failure_threshold,
        )
        if watch_:
            return await (_final(api, made.id) if as_json else _watch(api, made.id, out))
        if as_json:
            print_json(made)
        else:
            _print_deployment(out, made)
        return made

    done = run(go, timeout_s=60, interrupted=STOPPED_WATCHING)
    if watch_:
        if as_json:
            print_json(done)
        _exit_for(done)


# -- deployments --------------------------------------------------------------------------------------------------


@deployments_app.command("list")
def list_deployments(
    model: Annotated[UUID | None, typer.Option("--model", help="only deployments of this model version")] = None,
    status: Annotated[DeploymentStatus | None, typer.Option(help="only this status")] = None,
    limit: Annotated[int, typer.Option(help="at most this many", min=1, max=500)] = 50,
    offset: Annotated[int, typer.Option(help="skip this many", min=0)] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="print the page as JSON")] = False,
) -> None:
    """List deployments, newest first."""
    page = run(lambda api: api.list_deployments(model_id=model, status=status, limit=limit, offset=offset))
    if as_json:
        print_json(page)
        return
    out = stdout()
    table = Table(show_edge=False, pad_edge=False)
    table.add_column("id", no_wrap=True, min_width=36)
    table.add_column("module", overflow="fold")
    table.add_column("version", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("wave", justify="right", no_wrap=True)
    table.add_column("devices", justify="right", no_wrap=True)
    table.add_column("failures", justify="right", no_wrap=True)
    table.add_column("created", no_wrap=True)
    for d in page.deployments:
        done = sum(1 for x in d.devices if x.status.final)
        table.add_row(
            str(d.id),
            escape(d.ai_module),
            escape(f"{d.version}#{d.counter}"),
            _status(d.status),
            f"{min(d.current_wave + 1, d.waves)}/{d.waves}",
            f"{done}/{len(d.devices)}",
            f"{d.failures}/{d.failure_threshold}",
            f"{d.created_at:%Y-%m-%d %H:%M}",
        )
    if page.deployments:
        out.print(table)
    shown = f"{offset + 1}-{offset + len(page.deployments)} of " if page.deployments else "none of "
    out.print(f"{shown}{_plural(page.total, 'deployment')}")


@deployments_app.command("show")
def show_deployment(
    deployment_id: Annotated[UUID, typer.Argument(metavar="ID", help="deployment id")],
    watch_: Annotated[bool, typer.Option("--watch", help="a live view until the deployment ends")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print the deployment as JSON")] = False,
) -> None:
    """A deployment: its status and waves, and each device's wave, status and error."""
    out = stdout()
    if not watch_:
        found = run(lambda api: api.get_deployment(deployment_id))
        if as_json:
            print_json(found)
        else:
            _print_deployment(out, found)
        return

    done = run(
        lambda api: _final(api, deployment_id) if as_json else _watch(api, deployment_id, out),
        interrupted=STOPPED_WATCHING,
    )
    if as_json:
        print_json(done)
    _exit_for(done)


def _pause_or_resume(deployment_id: UUID, pause: bool, as_json: bool) -> None:
    found = run(lambda api: api.pause_deployment(deployment_id) if pause else api.resume_deployment(deployment_id))
    if as_json:
        print_json(found)
        return
    stdout().print(_deployment_line(found))


@deployments_app.command("pause")
def pause(
    deployment_id: Annotated[UUID, typer.Argument(metavar="ID", help="deployment id")],
    as_json: Annotated[bool, typer.Option("--json", help="print the deployment as JSON")] = False,
) -> None:
    """Pause a rollout: no further wave is sent (devices already sent theirs go on)."""
    _pause_or_resume(deployment_id, True, as_json)


@deployments_app.command("resume")
def resume(
    deployment_id: Annotated[UUID, typer.Argument(metavar="ID", help="deployment id")],
    as_json: Annotated[bool, typer.Option("--json", help="print the deployment as JSON")] = False,
) -> None:
    """Resume a paused rollout."""
    _pause_or_resume(deployment_id, False, as_json)
