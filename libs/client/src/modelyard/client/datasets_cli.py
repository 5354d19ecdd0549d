"""`modelyard datasets ...`: create, list, show and publish datasets, and upload files into them.

Every command finds the gateway and the token with `stackfile.resolve()` (MODELYARD_GATEWAY_URL and MODELYARD_TOKEN
override `.modelyard/stack.json`). An error from the API prints its ProblemDetails and exits 1; no stack exits 2.
Uploads are resumable: the upload carrying a file is remembered in a small state file (`<stack root>/uploads.json`,
else `~/.cache/modelyard/uploads.json`), so running the same command again after an interruption sends only the
chunks the server does not have yet.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Annotated, Any
from uuid import UUID

import pydantic
import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from modelyard.client import stackfile
from modelyard.client.api import ApiError, ModelyardClient
from modelyard.client.cli_support import err, print_json, run, stdout
from modelyard.client.uploader import ResumeState, file_sha256, upload_file
from modelyard.contracts.api.datasets import (
    Dataset,
    DatasetCreate,
    DatasetStats,
    DatasetStatus,
    Environment,
    Task,
)
from modelyard.contracts.api.uploads import MAX_CHUNK, MIN_CHUNK, Upload, UploadKind, UploadState
from modelyard.contracts.api.versions import DatasetVersion, Include

MIB = 1024 * 1024
STATE_FILE = "uploads.json"
SHOWN_PROBLEMS = 10

datasets_app = typer.Typer(no_args_is_help=True, help="Datasets: create, list, show, publish versions, upload files.")


def _value(option: Any) -> Any:
    return option.value if hasattr(option, "value") else option


def _dataset_summary(out: Console, dataset: Dataset) -> None:
    out.print(f"[bold]{escape(dataset.name)}[/]  [dim]{dataset.id}[/]")
    rows = [
        ("task", dataset.task.value),
        ("environment", dataset.environment.value),
        ("status", dataset.status.value),
        ("ai module", dataset.ai_module or "-"),
        ("classes", ", ".join(dataset.class_names) or "-"),
        ("samples", f"{dataset.sample_count} ({dataset.labeled_count} labeled, {dataset.verified_count} verified)"),
        ("created", f"{dataset.created_at:%Y-%m-%d %H:%M:%S} by {dataset.created_by}"),
    ]
    if dataset.description:
        rows.insert(0, ("description", dataset.description))
    for label, value in rows:
        out.print(f"  {label:<12} {escape(value)}")


# -- commands -----------------------------------------------------------------------------------------------------


@datasets_app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="dataset name, unique in the org")],
    task: Annotated[Task, typer.Option(help="what models trained on it do")],
    ai_module: Annotated[str | None, typer.Option(help="the AI module it feeds")] = None,
    description: Annotated[str | None, typer.Option(help="free text")] = None,
    class_names: Annotated[str | None, typer.Option(help="comma-separated class names, e.g. car,bus")] = None,
    environment: Annotated[Environment, typer.Option(help="where it is used")] = Environment.DEV,
    as_json: Annotated[bool, typer.Option("--json", help="print the dataset as JSON")] = False,
) -> None:
    """Create a dataset."""
    classes = [c.strip() for c in class_names.split(",") if c.strip()] if class_names else []
    try:
        spec = DatasetCreate(
            name=name,
            task=task,
            ai_module=ai_module,
            description=description,
            environment=environment,
            class_names=classes,
        )
    except pydantic.ValidationError as exc:
        for error in exc.errors():
            field = ".".join(str(part) for part in error["loc"]) or "input"
            err.print(f"[red]invalid {escape(field)}: {escape(error['msg'])}[/]")
        raise typer.Exit(2) from None
    dataset = run(lambda api: api.create_dataset(spec))
    if as_json:
        print_json(dataset)
        return
    out = stdout()
    out.print("[green]created[/]")
    _dataset_summary(out, dataset)


@datasets_app.command("list")
def list_(
    task: Annotated[Task | None, typer.Option(help="only this task")] = None,
    ai_module: Annotated[str | None, typer.Option(help="only this AI module")] = None,
    environment: Annotated[Environment | None, typer.Option(help="only this environment")] = None,
    status: Annotated[DatasetStatus | None, typer.Option(help="only this status")] = None,
    limit: Annotated[int, typer.Option(help="at most this many", min=1, max=500)] = 50,
    offset: Annotated[int, typer.Option(help="skip this many", min=0)] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="print the page as JSON")] = False,
) -> None:
    """List the org's datasets, newest first."""
    filters = {"task": task, "ai_module": ai_module, "environment": environment, "status": status}
    params = {k: _value(v) for k, v in filters.items() if v is not None}
    page = run(lambda api: api.list_datasets(limit=limit, offset=offset, **params))
    if as_json:
        print_json(page)
        return
    out = stdout()
    table = Table(show_edge=False, pad_edge=False)
    table.add_column("id", no_wrap=True, min_width=36)
    table.add_column("name", overflow="fold")
    table.add_column("task", no_wrap=True)
    table.add_column("status", no_wrap=True)
    for label in ("samples", "labeled", "verified"):
        table.add_column(label, justify="right", no_wrap=True)
    for d in page.datasets:
        table.add_row(
            str(d.id),
            escape(d.name),
            d.task.value,
            d.status.value,
            str(d.sample_count),
            str(d.labeled_count),
            str(d.verified_count),
        )
    if page.datasets:
        out.print(table)
    shown = f"{offset + 1}-{offset + len(page.datasets)} of " if page.datasets else "none of "
    out.print(f"{shown}{page.total} dataset{'s' if page.total != 1 else ''}")


def _stats_lines(out: Console, stats: DatasetStats) -> None:
    out.print("[bold]stats[/]")
    by_status = ", ".join(f"{k} {v}" for k, v in sorted(stats.by_status.items())) or "-"
    out.print(f"  samples      {stats.samples} ({by_status})")
    out.print(f"  labeled      {stats.labeled}   verified {stats.verified}   rejected {stats.rejected}")
    if stats.rated:
        average = f"{stats.average_rating:.3f}" if stats.average_rating is not None else "-"
        out.print(f"  rated        {stats.rated} (average {average})")
    if stats.first_captured_at and stats.last_captured_at:
        out.print(
            f"  captured     {stats.first_captured_at:%Y-%m-%d %H:%M:%S} .. {stats.last_captured_at:%Y-%m-%d %H:%M:%S}"
        )
    if stats.first_added_at and stats.last_added_at:
        out.print(f"  added        {stats.first_added_at:%Y-%m-%d %H:%M:%S} .. {stats.last_added_at:%Y-%m-%d %H:%M:%S}")
    if stats.class_balance:
        table = Table(title="classes", title_justify="left", show_edge=False, pad_edge=False)
        table.add_column("id", justify="right")
        table.add_column("name")
        table.add_column("samples", justify="right")
        table.add_column("instances", justify="right")
        for c in stats.class_balance:
            table.add_row(str(c.class_id), escape(c.name or "?"), str(c.samples), str(c.instances))
        out.print(table)


def _versions_table(out: Console, versions: list[DatasetVersion]) -> None:
    if not versions:
        out.print("[bold]versions[/]  none published yet")
        return
    table = Table(title="versions", title_justify="left", show_edge=False, pad_edge=False)
    table.add_column("version", justify="right")
    table.add_column("manifest sha256", no_wrap=True)
    table.add_column("samples", justify="right")
    table.add_column("train/val", justify="right")
    table.add_column("include")
    table.add_column("created")
    for v in versions:
        table.add_row(
            str(v.version),
            v.manifest_sha256[:16],
            str(v.sample_count),
            f"{v.train_count}/{v.val_count}",
            v.include.value,
            f"{v.created_at:%Y-%m-%d %H:%M}",
        )
    out.print(table)


@datasets_app.command("show")
def show(
    dataset_id: Annotated[UUID, typer.Argument(metavar="ID", help="dataset id")],
    as_json: Annotated[bool, typer.Option("--json", help="dataset, stats and versions as one JSON object")] = False,
) -> None:
    """A dataset, its stats and its versions."""

    async def fetch(api: ModelyardClient) -> tuple[Dataset, DatasetStats, list[DatasetVersion]]:
        dataset = await api.get_dataset(dataset_id)  # first: an unknown id is one clear 404
        stats, versions = await asyncio.gather(api.dataset_stats(dataset_id), api.list_versions(dataset_id))
        return dataset, stats, versions.versions

    dataset, stats, versions = run(fetch)
    if as_json:
        doc = {
            "dataset": dataset.model_dump(mode="json"),
            "stats": stats.model_dump(mode="json"),
            "versions": [v.model_dump(mode="json") for v in versions],
        }
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
        return
    out = stdout()
    _dataset_summary(out, dataset)
    _stats_lines(out, stats)
    _versions_table(out, versions)


@datasets_app.command("publish")
def publish(
    dataset_id: Annotated[UUID, typer.Argument(metavar="ID", help="dataset id")],
    include: Annotated[Include, typer.Option(help="verified samples only, or all but the rejected")] = Include.VERIFIED,
    val_fraction: Annotated[
        float, typer.Option(help="share of samples without a split put in val", min=0, max=0.9)
    ] = 0.2,
    seed: Annotated[int, typer.Option(help="seed of the train/val split", min=0)] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="print the version as JSON")] = False,
) -> None:
    """Publish an immutable version; the same content gives back the version that already has it."""
    options = {"include": include.value, "val_fraction": val_fraction, "seed": seed}
    version = run(lambda api: api.publish_version(dataset_id, **options), timeout_s=150)
    if as_json:
        print_json(version)
        return
    out = stdout()
    if version.created:
        out.print(f"[green]published version {version.version}[/] of {dataset_id}")
    else:
        out.print(f"[yellow]version {version.version} already has this content[/]: nothing new was published")
    out.print(f"  manifest sha256  {version.manifest_sha256}")
    out.print(f"  samples          {version.sample_count} ({version.train_count} train, {version.val_count} val)")


def default_state_file() -> Path:
    root = stackfile.find_root()
    return root / STATE_FILE if root is not None else Path.home() / ".cache" / "modelyard" / STATE_FILE


def _problem_line(problem: dict[str, Any]) -> str:
    file, line, message = problem.get("file") or "", problem.get("line"), problem.get("message", "")
    where = f"{file}:{line}" if line is not None else file
    return f"{where}: {message}" if where else str(message)


@datasets_app.command("upload")
def upload(
    file: Annotated[Path, typer.Argument(help="the file to upload", exists=True, dir_okay=False, readable=True)],
    dataset_id: Annotated[UUID, typer.Option("--dataset", help="dataset id")],
    kind: Annotated[UploadKind, typer.Option(help="what the file holds")],
    chunk_size_mb: Annotated[
        int, typer.Option(help="chunk size in MiB", min=MIN_CHUNK // MIB, max=MAX_CHUNK // MIB)
    ] = 16,
    parallel: Annotated[int, typer.Option(help="chunks in flight at once", min=1, max=64)] = 4,
    no_wait: Annotated[bool, typer.Option("--no-wait", help="return once finalized; the import runs on")] = False,
    wait_timeout: Annotated[float, typer.Option(help="seconds to wait for the import", min=1)] = 600.0,
    as_json: Annotated[bool, typer.Option("--json", help="print the upload as JSON at the end")] = False,
    state_file: Annotated[
        Path | None,
        typer.Option(
            hidden=True,
            envvar="MODELYARD_UPLOAD_STATE",
            help="where unfinished uploads are remembered (default <stack root>/uploads.json)",
        ),
    ] = None,
) -> None:
    """Upload FILE into a dataset (resumable: run again after an interruption), then wait for its import."""
    state_path = state_file or default_state_file()
    resume = ResumeState(state_path)
    size = file.stat().st_size

    async def work(api: ModelyardClient) -> Upload:
        with err.status(f"computing the sha256 of {escape(file.name)}..."):
            sha = await asyncio.to_thread(file_sha256, file)
        key = f"{dataset_id}:{sha}"
        already = 0
        known = resume.get(key)
        if known is not None:
            try:
                prior = await api.get_upload(known)
            except ApiError:
                prior = None  # gone (another org, purged): the uploader starts a new one
            if prior is not None and prior.state is UploadState.RECEIVING:
                already = prior.received_bytes
                err.print(f"resuming upload {known}: {already:,} of {size:,} bytes already there")
        progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(binary_units=True),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=err,
        )
        skip_first = already > 0  # the uploader reports the bytes already on the server once, before sending

        def advance(sent: int) -> None:
            nonlocal skip_first
            if skip_first:
                skip_first = False
                return
            progress.advance(task, sent)

        with progress:
            task = progress.add_task(f"uploading {escape(file.name)}", total=size, completed=already)
            result = await upload_file(
                api,
                file,
                dataset_id,
                kind,
                chunk_size=chunk_size_mb * MIB,
                parallel=parallel,
                resume=resume,
                on_progress=advance,
                sha256=sha,
                finalize=False,
            )
        if result.state is UploadState.RECEIVING:
            with err.status("finalizing: the server checks the whole file's sha256..."):
                result = await api.finalize_upload(result.id)
        elif known is not None:
            err.print(f"upload {result.id} of this file was already finalized ({result.state.value})")
        if result.state.final or no_wait:
            if result.state.final:
                resume.put(key, None)
            return result
        with err.status(f"importing (upload {result.id})..."):
            try:
                result = await api.wait_upload(result.id, timeout_s=wait_timeout)
            except TimeoutError:
                err.print(f"[yellow]the import of upload {result.id} is still running after {wait_timeout:.0f}s[/]")
                err.print("run the same command again to keep waiting")
                raise typer.Exit(1) from None
        resume.put(key, None)
        return result

    hint = f"interrupted: run the same command again to resume (state in {state_path})"
    final = run(work, timeout_s=300, interrupted=hint)
    out = stdout()
    if as_json:
        print_json(final)
    if final.state is UploadState.COMPLETED:
        out.print(
            f"[green]imported {final.imported_samples} sample{'s' if final.imported_samples != 1 else ''}[/], "
            f"skipped {final.skipped_samples} (already in the dataset); upload {final.id}"
        )
    elif final.state is UploadState.IMPORTING:
        out.print(f"upload {final.id} finalized ({final.size:,} bytes); the import runs on the server")
    else:
        err.print(f"[bold red]upload {final.id} {final.state.value}[/][red]: {escape(final.error or '')}[/]")
        for problem in final.problems[:SHOWN_PROBLEMS]:
            err.print(f"[red]  {escape(_problem_line(problem))}[/]")
        if len(final.problems) > SHOWN_PROBLEMS:
            err.print(f"[red]  ... and {len(final.problems) - SHOWN_PROBLEMS} more[/]")
        raise typer.Exit(1)
