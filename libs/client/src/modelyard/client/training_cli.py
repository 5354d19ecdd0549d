"""`modelyard train` and `modelyard jobs ...`: submit training, watch it live, inspect and cancel jobs; and
`modelyard trainer`, which runs a trainer worker process."""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Annotated, Any
from uuid import UUID

import typer
import yaml
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from modelyard.client.api import ModelyardClient
from modelyard.client.cli_support import err, print_json, run, stdout
from modelyard.contracts.api.training import ConfigMode, Job, JobCreate, JobStatus, Pool, Priority

jobs_app = typer.Typer(no_args_is_help=True, help="Training jobs: list, show, logs, cancel.")
SHOWN_METRICS = (
    "train/box_loss",
    "val/box_loss",
    "metrics/precision(B)",
    "metrics/recall(B)",
    "metrics/mAP50(B)",
    "metrics/mAP50-95(B)",
)


def parse_sets(pairs: list[str]) -> dict[str, Any]:
    """`--set epochs=3 --set amp=false` → {"epochs": 3, "amp": False} (values read as YAML scalars)."""
    overrides: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise typer.BadParameter(f"{pair!r} is not key=value", param_hint="--set")
        overrides[key.strip()] = yaml.safe_load(value) if value.strip() else None
    return overrides


def _job_line(out: Console, job: Job) -> None:
    colour = {"completed": "green", "failed": "red", "cancelled": "yellow"}.get(job.status.value, "cyan")
    out.print(
        f"job [bold]{job.id}[/] {escape(job.name)}: [{colour}]{job.status.value}[/] attempt {job.attempt}, "
        f"epoch {job.current_epoch}/{job.total_epochs} ({job.progress_percent:.0f}%)"
    )


def _epoch_table(rows: list[tuple[int, dict[str, float]]]) -> Table:
    table = Table("epoch", *(m.replace("metrics/", "") for m in SHOWN_METRICS), box=None)
    for epoch, metrics in rows:
        table.add_row(str(epoch), *(f"{metrics[m]:.4f}" if m in metrics else "-" for m in SHOWN_METRICS))
    return table


async def watch(api: ModelyardClient, job_id: UUID, out: Console) -> str:
    """A progress bar and one table row per epoch, live over the WebSocket; returns the final status."""
    seen: dict[int, dict[str, float]] = {}
    status = "pending"
    columns = (TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(), TimeElapsedColumn())
    with Progress(*columns, console=out, transient=False) as progress:
        bar = progress.add_task("waiting for a trainer", total=None)
        async for update in api.watch_job(job_id):
            if update.get("event") != "training_status":
                continue
            status = update["status"]
            epoch, total = update["current_epoch"], update["total_epochs"] or None
            if update["metrics"] and epoch and epoch not in seen:
                seen[epoch] = update["metrics"]
                progress.console.print(_row(epoch, update["metrics"]))
            progress.update(bar, description=f"{status} epoch {epoch}/{total or '?'}", completed=epoch, total=total)
            if status in ("completed", "failed", "cancelled"):
                if update.get("error_message"):
                    err.print(f"[red]{escape(update['error_message'])}[/]")
                break
    return status


def _row(epoch: int, metrics: dict[str, float]) -> str:
    return "  ".join([f"{epoch:>5}", *(f"{metrics[m]:.4f}" if m in metrics else "-" for m in SHOWN_METRICS)])


def train(
    dataset: Annotated[UUID, typer.Option(help="dataset id")],
    version: Annotated[int, typer.Option(help="dataset version", min=1)],
    set_: Annotated[list[str] | None, typer.Option("--set", help="training option key=value (repeatable)")] = None,
    name: Annotated[str | None, typer.Option(help="job name")] = None,
    mode: Annotated[ConfigMode, typer.Option(help="user: the safe options only; developer: all")] = ConfigMode.USER,
    framework: Annotated[str, typer.Option()] = "ultralytics",
    priority: Annotated[Priority, typer.Option()] = Priority.NORMAL,
    pool: Annotated[Pool, typer.Option()] = Pool.CPU,
    watch_: Annotated[bool, typer.Option("--watch", help="follow the job live until it ends")] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Submit a training job on a dataset version."""
    overrides = parse_sets(set_ or [])
    spec = JobCreate(
        name=name or f"train-{dataset}-v{version}",
        dataset_id=dataset,
        dataset_version=version,
        framework=framework,
        mode=mode,
        overrides=overrides,
        priority=priority,
        pool=pool,
    )
    out = stdout()

    async def go(api: ModelyardClient) -> str:
        job = await api.create_job(spec)
        if as_json and not watch_:
            print_json(job)
            return job.status.value
        _job_line(out, job)
        if not watch_:
            return job.status.value
        out.print("  ".join(["epoch", *(m.replace("metrics/", "") for m in SHOWN_METRICS)]))
        status = await watch(api, job.id, out)
        _job_line(out, (await api.get_job(job.id)).job)
        return status

    status = run(go, timeout_s=60, interrupted="stopped watching; the job goes on (modelyard jobs show <id>)")
    if status in ("failed", "cancelled"):
        raise typer.Exit(1)


@jobs_app.command("list")
def list_(
    status: Annotated[JobStatus | None, typer.Option()] = None,
    dataset: Annotated[UUID | None, typer.Option()] = None,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 50,
    offset: Annotated[int, typer.Option(min=0)] = 0,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """List training jobs, newest first."""
    found = run(
        lambda api: api.list_jobs(
            status=status.value if status else None, dataset_id=dataset, limit=limit, offset=offset
        )
    )
    if as_json:
        print_json(found)
        return
    table = Table("id", "name", "status", "epoch", "attempt", "created", box=None)
    for job in found.jobs:
        table.add_row(
            str(job.id),
            escape(job.name),
            job.status.value,
            f"{job.current_epoch}/{job.total_epochs}",
            str(job.attempt),
            f"{job.created_at:%Y-%m-%d %H:%M}",
        )
    out = stdout()
    out.print(table)
    out.print(f"{found.total} job(s)")


@jobs_app.command("show")
def show(job_id: Annotated[UUID, typer.Argument()], as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """A job: status, resolved config, every epoch's metrics, checkpoints."""

    async def go(api: ModelyardClient) -> tuple[Any, Any, Any]:
        return await api.get_job(job_id), await api.job_metrics(job_id), await api.job_checkpoints(job_id)

    detail, metrics, checkpoints = run(go)
    if as_json:
        sys.stdout.write(detail.model_dump_json(indent=2) + "\n")
        return
    out = stdout()
    _job_line(out, detail.job)
    if detail.job.error_message:
        out.print(f"[red]{escape(detail.job.error_message)}[/]")
    out.print(_epoch_table([(m.epoch, m.metrics) for m in metrics.metrics]))
    for checkpoint in checkpoints.checkpoints:
        out.print(
            f"  {checkpoint.name:<12} {checkpoint.size:>12,} bytes  sha256 {checkpoint.sha256[:16]}…  "
            f"epoch {checkpoint.epoch or '-'}"
        )


@jobs_app.command("logs")
def logs(
    job_id: Annotated[UUID, typer.Argument()],
    offset: Annotated[int, typer.Option(min=0)] = 0,
    follow: Annotated[bool, typer.Option("--follow", "-f")] = False,
) -> None:
    """Print the job's log lines (--follow: keep printing until the job ends)."""

    async def go(api: ModelyardClient) -> None:
        position = offset
        while True:
            page = await api.job_logs(job_id, position)
            for line in page.lines:
                sys.stdout.write(line + "\n")
            sys.stdout.flush()
            position = page.next_offset
            if not follow:
                return
            if not page.lines:
                if (await api.get_job(job_id)).job.status.final:
                    return
                await asyncio.sleep(1.0)

    run(go, interrupted="stopped following")


@jobs_app.command("cancel")
def cancel(job_id: Annotated[UUID, typer.Argument()]) -> None:
    """Cancel a job; a running trainer stops it within seconds."""
    job = run(lambda api: api.cancel_job(job_id))
    _job_line(stdout(), job)


def trainer(
    pool: Annotated[Pool, typer.Option(help="which dispatch queue to take jobs from")] = Pool.CPU,
    device: Annotated[str | None, typer.Option(help="cpu, 0, 0,1 ...")] = None,
) -> None:
    """Run a trainer worker (python -m modelyard.trainer) in this terminal."""
    argv = [sys.executable, "-m", "modelyard.trainer", "--pool", pool.value, *(["--device", device] if device else [])]
    os.execv(sys.executable, argv)  # noqa: S606 - our own module, no shell
