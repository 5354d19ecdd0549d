"""`modelyard models ...`: the model registry. List and inspect versions and their lineage, move them through the
approval gate (test, approve, reject, deprecate), release them signed, roll back, set a module's default model and
revert to it, compare two versions, and download a release with its signature for offline verification.

Like every command group it finds the gateway with `stackfile.resolve()`; an API error prints its ProblemDetails and
exits 1, no stack exits 2.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated
from uuid import UUID

import httpx
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from modelyard.client.api import ModelyardClient
from modelyard.client.cli_support import err, print_json, run, stdout
from modelyard.contracts.api.models import (
    Comparison,
    ModelStatus,
    ModelVersion,
    Release,
    ReleaseDownload,
    Transition,
)

models_app = typer.Typer(
    no_args_is_help=True,
    help="The model registry: versions, lineage, approval, signed releases, rollback, default models.",
)

COLOURS = {
    "draft": "dim",
    "testing": "cyan",
    "approved": "green",
    "released": "bold green",
    "rejected": "red",
    "deprecated": "yellow",
}
LIST_METRIC = "metrics/mAP50-95(B)"  # the one metric `models list` shows, when the versions have it


def _status(status: ModelStatus) -> str:
    return f"[{COLOURS.get(status.value, 'white')}]{status.value}[/]"


def _model_line(out: Console, model: ModelVersion) -> None:
    default = " [magenta](default)[/]" if model.is_default else ""
    release = f", release #{model.release_counter}" if model.release_counter is not None else ""
    out.print(
        f"model [bold]{model.id}[/] {escape(model.ai_module)} {escape(model.version)}: "
        f"{_status(model.status)}{default}{release}"
    )


def _model_summary(out: Console, model: ModelVersion) -> None:
    _model_line(out, model)
    rows = [
        ("name", model.name),
        ("task", f"{model.task} ({model.framework})"),
        ("job", str(model.job_id)),
        ("approved", f"{model.approved_at:%Y-%m-%d %H:%M:%S} by {model.approved_by}" if model.approved_at else "-"),
        ("released", f"{model.released_at:%Y-%m-%d %H:%M:%S}" if model.released_at else "-"),
        ("created", f"{model.created_at:%Y-%m-%d %H:%M:%S}"),
        ("updated", f"{model.updated_at:%Y-%m-%d %H:%M:%S}"),
    ]
    if model.notes:
        rows.append(("notes", model.notes))
    for label, value in rows:
        out.print(f"  {label:<10} {escape(value)}")


def _metrics_table(out: Console, metrics: dict[str, float]) -> None:
    if not metrics:
        out.print("[bold]metrics[/]  none")
        return
    table = Table(title="metrics", title_justify="left", show_edge=False, pad_edge=False)
    table.add_column("metric")
    table.add_column("value", justify="right")
    for name, value in sorted(metrics.items()):
        table.add_row(escape(name), f"{value:.4f}")
    out.print(table)


def _release_summary(out: Console, release: Release, verb: str = "released") -> None:
    out.print(
        f"[green]{verb}[/] {escape(release.ai_module)} {escape(release.version)} as release "
        f"[bold]#{release.counter}[/] ({escape(release.kind)}), model {release.model_id}"
    )
    rows = [
        ("reason", release.reason),
        ("by", release.released_by),
        ("issued", f"{release.issued_at:%Y-%m-%d %H:%M:%S}"),
        ("expires", f"{release.expires_at:%Y-%m-%d %H:%M:%S}"),
        ("signed", f"key {release.key_id}"),
    ]
    for label, value in rows:
        out.print(f"  {label:<8} {escape(value)}")
    for file in release.files:
        out.print(f"  {escape(file.name):<14} {file.size:>12,} bytes  sha256 {file.sha256}")


def _model_or_json(model: ModelVersion, as_json: bool) -> None:
    if as_json:
        print_json(model)
        return
    _model_line(stdout(), model)


def _release_or_json(release: Release, as_json: bool, verb: str) -> None:
    if as_json:
        print_json(release)
        return
    _release_summary(stdout(), release, verb)


# -- reading ------------------------------------------------------------------------------------------------------


@models_app.command("list")
def list_(
    module: Annotated[str | None, typer.Option("--module", help="only this AI module")] = None,
    status: Annotated[ModelStatus | None, typer.Option(help="only this status")] = None,
    job: Annotated[UUID | None, typer.Option("--job", help="only versions of this training job")] = None,
    limit: Annotated[int, typer.Option(help="at most this many", min=1, max=500)] = 50,
    offset: Annotated[int, typer.Option(help="skip this many", min=0)] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="print the page as JSON")] = False,
) -> None:
    """List model versions, newest first."""
    page = run(lambda api: api.list_models(ai_module=module, status=status, job_id=job, limit=limit, offset=offset))
    if as_json:
        print_json(page)
        return
    out = stdout()
    with_metric = any(LIST_METRIC in m.metrics for m in page.models)
    table = Table(show_edge=False, pad_edge=False)
    table.add_column("id", no_wrap=True, min_width=36)
    table.add_column("module", overflow="fold")
    table.add_column("version", no_wrap=True)
    table.add_column("name", overflow="fold")
    table.add_column("status", no_wrap=True)
    table.add_column("default", no_wrap=True)
    table.add_column("release", justify="right", no_wrap=True)
    if with_metric:
        table.add_column("mAP50-95", justify="right", no_wrap=True)
    table.add_column("created", no_wrap=True)
    for m in page.models:
        cells = [
            str(m.id),
            escape(m.ai_module),
            escape(m.version),
            escape(m.name),
            _status(m.status),
            "yes" if m.is_default else "",
            f"#{m.release_counter}" if m.release_counter is not None else "-",
        ]
        if with_metric:
            cells.append(f"{m.metrics[LIST_METRIC]:.4f}" if LIST_METRIC in m.metrics else "-")
        cells.append(f"{m.created_at:%Y-%m-%d %H:%M}")
        table.add_row(*cells)
    if page.models:
        out.print(table)
    shown = f"{offset + 1}-{offset + len(page.models)} of " if page.models else "none of "
    out.print(f"{shown}{page.total} model{'s' if page.total != 1 else ''}")


@models_app.command("show")
def show(
    model_id: Annotated[UUID, typer.Argument(metavar="ID", help="model version id")],
    as_json: Annotated[bool, typer.Option("--json", help="print the version as JSON")] = False,
) -> None:
    """A model version: status, approval, release, metrics and artifacts."""
    model = run(lambda api: api.get_model(model_id))
    if as_json:
        print_json(model)
        return
    out = stdout()
    _model_summary(out, model)
    _metrics_table(out, model.metrics)
    for artifact in model.artifacts:
        out.print(f"  {escape(artifact.name):<14} {artifact.size:>12,} bytes  sha256 {artifact.sha256}")


@models_app.command("lineage")
def lineage(
    model_id: Annotated[UUID, typer.Argument(metavar="ID", help="model version id")],
    as_json: Annotated[bool, typer.Option("--json", help="print the lineage as JSON")] = False,
) -> None:
    """What made a version: the job, the dataset version, the resolved config, the trainer, with digests."""
    found = run(lambda api: api.model_lineage(model_id))
    if as_json:
        print_json(found)
        return
    out = stdout()
    out.print(f"[bold]lineage[/] of model {model_id}")
    rows = [
        ("job", f"{found.job_id} {found.job_name} (attempt {found.attempt}, by {found.submitted_by})"),
        ("dataset", f"{found.dataset_id} version {found.dataset_version}"),
        ("manifest", f"sha256 {found.manifest_sha256}"),
        ("task", f"{found.task} ({found.framework} {found.framework_version or ''})".replace(" )", ")")),
        ("config", f"sha256 {found.config_sha256}"),
        ("base", found.base_version or "-"),
        ("trainer", f"{found.trainer_id or '-'} {found.trainer_version or ''}".strip()),
    ]
    for label, value in rows:
        out.print(f"  {label:<9} {escape(value)}")
    if found.config:
        out.print("[bold]config[/]")
        for key, value in sorted(found.config.items()):
            out.print(f"  {escape(key)}: {escape(repr(value))}")


@models_app.command("compare")
def compare(
    a: Annotated[UUID, typer.Argument(help="model version id")],
    b: Annotated[UUID, typer.Argument(help="model version id")],
    as_json: Annotated[bool, typer.Option("--json", help="print the comparison as JSON")] = False,
) -> None:
    """Two versions side by side: every metric of either, and B minus A."""
    found: Comparison = run(lambda api: api.compare_models(a, b))
    if as_json:
        print_json(found)
        return
    out = stdout()
    out.print(f"A  {found.a.id} {escape(found.a.ai_module)} {escape(found.a.version)} {_status(found.a.status)}")
    out.print(f"B  {found.b.id} {escape(found.b.ai_module)} {escape(found.b.version)} {_status(found.b.status)}")
    table = Table(show_edge=False, pad_edge=False)
    table.add_column("metric")
    for label in ("A", "B", "B - A"):
        table.add_column(label, justify="right", no_wrap=True)
    for row in found.metrics:
        table.add_row(
            escape(row.metric),
            f"{row.a:.4f}" if row.a is not None else "-",
            f"{row.b:.4f}" if row.b is not None else "-",
            f"{row.delta:+.4f}" if row.delta is not None else "-",
        )
    if found.metrics:
        out.print(table)
    else:
        out.print("no metrics to compare")


@models_app.command("modules")
def modules(as_json: Annotated[bool, typer.Option("--json", help="print the modules as JSON")] = False) -> None:
    """The AI modules: how many versions, the default model, the current release."""
    found = run(lambda api: api.list_modules())
    if as_json:
        print_json(found)
        return
    out = stdout()
    table = Table(show_edge=False, pad_edge=False)
    table.add_column("module", overflow="fold")
    table.add_column("versions", justify="right")
    table.add_column("default", no_wrap=True)
    table.add_column("current release", no_wrap=True)
    table.add_column("expires", no_wrap=True)
    for module in found.modules:
        current = module.current_release
        table.add_row(
            escape(module.ai_module),
            str(module.versions),
            escape(f"{module.default_version} ({module.default_model_id})") if module.default_model_id else "-",
            escape(f"#{current.counter} {current.version} ({current.kind})") if current else "-",
            f"{current.expires_at:%Y-%m-%d}" if current else "-",
        )
    if found.modules:
        out.print(table)
    out.print(f"{len(found.modules)} module{'s' if len(found.modules) != 1 else ''}")


# -- the approval gate --------------------------------------------------------------------------------------------

ReasonOption = Annotated[str, typer.Option("--reason", help="why: recorded with the change")]


def _transition(model_id: UUID, transition: Transition, reason: str, as_json: bool) -> None:
    _model_or_json(run(lambda api: api.transition_model(model_id, transition, reason)), as_json)


@models_app.command("test")
def start_testing(
    model_id: Annotated[UUID, typer.Argument(metavar="ID", help="model version id")],
    reason: ReasonOption,
    as_json: Annotated[bool, typer.Option("--json", help="print the version as JSON")] = False,
) -> None:
    """Move a draft version into testing."""
    _transition(model_id, Transition.TEST, reason, as_json)


@models_app.command("approve")
def approve(
    model_id: Annotated[UUID, typer.Argument(metavar="ID", help="model version id")],
    reason: ReasonOption,
    as_json: Annotated[bool, typer.Option("--json", help="print the version as JSON")] = False,
) -> None:
    """Approve a version for release (with four-eyes on, not by the one who submitted its training)."""
    _transition(model_id, Transition.APPROVE, reason, as_json)


@models_app.command("reject")
def reject(
    model_id: Annotated[UUID, typer.Argument(metavar="ID", help="model version id")],
    reason: ReasonOption,
    as_json: Annotated[bool, typer.Option("--json", help="print the version as JSON")] = False,
) -> None:
    """Reject a version: it can no longer be released."""
    _transition(model_id, Transition.REJECT, reason, as_json)


@models_app.command("deprecate")
def deprecate(
    model_id: Annotated[UUID, typer.Argument(metavar="ID", help="model version id")],
    reason: ReasonOption,
    as_json: Annotated[bool, typer.Option("--json", help="print the version as JSON")] = False,
) -> None:
    """Deprecate a version."""
    _transition(model_id, Transition.DEPRECATE, reason, as_json)


@models_app.command("notes")
def notes(
    model_id: Annotated[UUID, typer.Argument(metavar="ID", help="model version id")],
    text: Annotated[str, typer.Argument(help="the version's notes (replaces them; '' clears them)")],
    as_json: Annotated[bool, typer.Option("--json", help="print the version as JSON")] = False,
) -> None:
    """Set a version's free-text notes."""
    _model_or_json(run(lambda api: api.update_model_notes(model_id, text)), as_json)


# -- releases -----------------------------------------------------------------------------------------------------


@models_app.command("release")
def release(
    model_id: Annotated[UUID, typer.Argument(metavar="ID", help="model version id")],
    reason: ReasonOption,
    expires_in_days: Annotated[
        int | None, typer.Option(help="the release expires after this many days (server default 365)", min=1, max=3650)
    ] = None,
    platform: Annotated[
        list[str] | None, typer.Option("--platform", help="a platform it is for (repeatable; default any)")
    ] = None,
    hardware: Annotated[
        list[str] | None, typer.Option("--hardware", help="hardware it is for (repeatable; default any)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the release as JSON")] = False,
) -> None:
    """Sign and release an approved version: model.onnx and release.json, signed together."""
    done = run(
        lambda api: api.release_model(
            model_id, reason, expires_in_days=expires_in_days, platforms=platform, hardware=hardware
        ),
        timeout_s=120,
    )
    _release_or_json(done, as_json, "released")


@models_app.command("rollback")
def rollback(
    model_id: Annotated[UUID, typer.Argument(metavar="ID", help="the older model version to go back to")],
    reason: ReasonOption,
    as_json: Annotated[bool, typer.Option("--json", help="print the release as JSON")] = False,
) -> None:
    """Roll back to an older version: a new release, with a higher counter, of that version."""
    done = run(lambda api: api.rollback_model(model_id, reason), timeout_s=120)
    _release_or_json(done, as_json, "rolled back to")


@models_app.command("default")
def default(
    model_id: Annotated[UUID, typer.Argument(metavar="ID", help="model version id")],
    reason: ReasonOption,
    as_json: Annotated[bool, typer.Option("--json", help="print the version as JSON")] = False,
) -> None:
    """Make a version its module's default model: the fallback `models revert` releases."""
    _model_or_json(run(lambda api: api.set_default_model(model_id, reason)), as_json)


@models_app.command("revert")
def revert(
    module: Annotated[str, typer.Argument(metavar="MODULE", help="AI module")],
    reason: ReasonOption,
    as_json: Annotated[bool, typer.Option("--json", help="print the release as JSON")] = False,
) -> None:
    """Revert a module to its default model, as a new release."""
    done = run(lambda api: api.revert_module(module, reason), timeout_s=120)
    _release_or_json(done, as_json, "reverted to")


def _entries(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir()) if directory.is_dir() else []


@models_app.command("download")
def download(
    model_id: Annotated[UUID, typer.Argument(metavar="ID", help="model version id")],
    directory: Annotated[
        Path, typer.Argument(metavar="DIR", help="where the release's files go (created)", file_okay=False)
    ],
) -> None:
    """Download a version's latest release into DIR and its signature beside it as DIR.sig, to verify offline."""

    async def go(api: ModelyardClient) -> tuple[ReleaseDownload, Path, list[str]]:
        found = await api.model_release(model_id)
        existing = await asyncio.to_thread(_entries, directory)
        try:
            signature = await api.download_release(model_id, directory, release=found)
        except ValueError as exc:
            err.print(f"[bold red]download failed[/][red]: {escape(str(exc))}[/]")
            raise typer.Exit(1) from None
        except httpx.HTTPStatusError as exc:
            where = exc.request.url.copy_with(query=None)  # the presigned query is a credential
            err.print(f"[bold red]download failed[/][red]: {exc.response.status_code} from {escape(str(where))}[/]")
            raise typer.Exit(1) from None
        return found, signature, [name for name in existing if name not in found.urls]

    found, signature, extra = run(go, timeout_s=300)
    out = stdout()
    out.print(
        f"downloaded {escape(found.ai_module)} {escape(found.version)} release [bold]#{found.counter}[/] "
        f"({escape(found.kind)}, expires {found.expires_at:%Y-%m-%d}) into {escape(str(directory))}"
    )
    for file in found.files:
        out.print(f"  {escape(file.name):<14} {file.size:>12,} bytes  sha256 {file.sha256}")
    out.print(f"signature {escape(str(signature))} (key {escape(found.key_id)})")
    if extra:
        err.print(
            f"[yellow]{escape(str(directory))} also holds {escape(', '.join(extra))}: the signature covers exactly "
            "the release's files, so verification fails until they are removed[/]"
        )
    out.print("verify it offline with the registry's public key (modelyard models keys --out PUB.pem):")
    signed = signature.with_name(signature.name.removesuffix(".sig"))  # DIR, resolved
    out.print(
        f"  model_signing verify key {escape(str(signed))} --public_key PUB.pem --signature {escape(str(signature))}"
    )


@models_app.command("keys")
def keys(
    out_file: Annotated[
        Path | None, typer.Option("--out", help="write the public key PEM to this file", dir_okay=False)
    ] = None,
    key_id: Annotated[str | None, typer.Option(help="which key (default: the first)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the keys as JSON")] = False,
) -> None:
    """The registry's release signing public keys; --out writes one PEM, for `model_signing verify key`."""
    found = run(lambda api: api.signing_keys())
    chosen = [k for k in found.keys if key_id is None or k.key_id == key_id]
    if out_file is not None:
        if not chosen:
            err.print(f"[red]no signing key{f' {escape(key_id)}' if key_id else ''} in the registry[/]")
            raise typer.Exit(1)
        out_file.parent.mkdir(parents=True, exist_ok=True)
        out_file.write_text(chosen[0].public_key_pem)
        err.print(f"wrote public key {escape(chosen[0].key_id)} ({escape(chosen[0].algorithm)}) to {out_file}")
        return
    if as_json:
        print_json(found)
        return
    out = stdout()
    for key in chosen:
        out.print(f"[bold]{escape(key.key_id)}[/]  {escape(key.algorithm)}")
        out.print(escape(key.public_key_pem.rstrip("\n")))
    if not chosen:
        out.print(f"no signing key{f' {escape(key_id)}' if key_id else ''}")


@models_app.command("settings")
def settings(
    four_eyes: Annotated[
        bool | None,
        typer.Option(
            "--four-eyes/--no-four-eyes",
            help="approval needs someone other than the job's submitter (omit both to only show the settings)",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the settings as JSON")] = False,
) -> None:
    """Show the registry's settings, or change them."""
    found = run(lambda api: api.registry_settings() if four_eyes is None else api.put_registry_settings(four_eyes))
    if as_json:
        print_json(found)
        return
    stdout().print(f"four-eyes approval  {'on' if found.four_eyes else 'off'}")
