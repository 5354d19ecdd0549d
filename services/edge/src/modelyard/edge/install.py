"""Installing one deployment, step by step, before a byte reaches a session: download each file (Range resume, a
bound on the declared length, sha256), verify the signature against the trusted keys and then release.json
(module, counter strictly above the last installed, expiry, hardware, platform), build and warm the new session
off the request path, health-check it, swap it in atomically, and revert to the previous model if the swapped-in
one fails its first live check. The state (active, previous, last counter) is saved only after a good swap."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

import httpx

from modelyard.contracts.api.devices import DeviceDeployStatus
from modelyard.contracts.events import DeployRequested
from modelyard.edge import download, runtimes, verify
from modelyard.edge.models import ModelSlots, Servable
from modelyard.edge.state import AgentState, InstalledRelease, prune, release_dir

Report = Callable[[DeviceDeployStatus, str | None, str | None], Awaitable[None]]
MODEL_FILE, MANIFEST_FILE = "model.onnx", "release.json"


class InstallFailed(Exception):
    """`reason` is machine-readable (the distribution retries `http`, `short` and `timeout`)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def signature_path(folder: Path) -> Path:
    return folder.with_name(f"{folder.name}.sig")  # beside the signed folder, which must hold exactly its files


async def fetch_release(http: httpx.AsyncClient, deploy: DeployRequested, folder: Path) -> Path:
    await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
    names = {f.name for f in deploy.files}
    if names != {MODEL_FILE, MANIFEST_FILE}:
        raise InstallFailed("bad_manifest", f"a release holds model.onnx and release.json, not {sorted(names)}")
    try:
        for f in deploy.files:
            await download.fetch(http, f.url, folder / f.name, size=f.size, sha256=f.sha256)
        signature = signature_path(folder)
        response = await http.get(deploy.signature_url)
        if response.status_code != 200 or len(response.content) > 1 << 20:
            raise InstallFailed("http", f"signature download answered {response.status_code}")
        await asyncio.to_thread(signature.write_bytes, response.content)
    except download.DownloadError as exc:
        raise InstallFailed(exc.reason, str(exc)) from exc
    except httpx.HTTPError as exc:
        raise InstallFailed("http", f"{type(exc).__name__}: {exc}") from exc
    return signature


def _build(path: Path, task: str, deploy: DeployRequested) -> Servable:
    model = runtimes.load(task, path, ai_module=deploy.ai_module, version=deploy.version, counter=deploy.counter)
    model.health_check()
    return model


async def install(
    deploy: DeployRequested,
    *,
    state: AgentState,
    slots: ModelSlots,
    http: httpx.AsyncClient,
    trusted_keys: dict[str, Path],
    hardware: str,
    platform: str,
    report: Report,
) -> None:
    module = deploy.ai_module
    folder = release_dir(state.state_dir, module, deploy.counter)
    current = state.module(module)
    if current.last_counter is not None and deploy.counter <= current.last_counter:
        # refuse a replay before fetching anything; verification would refuse it too
        raise InstallFailed(
            "counter_not_newer", f"release {deploy.counter} is not newer than the installed {current.last_counter}"
        )
    await report(DeviceDeployStatus.DOWNLOADING, None, None)
    try:
        signature = await fetch_release(http, deploy, folder)
        await report(DeviceDeployStatus.INSTALLING, None, None)
        try:
            manifest = verify.verify_release(
                folder,
                signature,
                trusted_keys,
                expect_module=module,
                last_counter=current.last_counter,
                hardware=hardware,
                platform=platform,
            )
        except verify.ReleaseRefused as exc:
            raise InstallFailed(exc.reason, str(exc)) from exc
        try:
            model = await asyncio.to_thread(_build, folder / MODEL_FILE, manifest.task, deploy)
        except Exception as exc:
            raise InstallFailed("health_check", f"the new model failed its health check: {exc}") from exc
    except InstallFailed:
        await asyncio.to_thread(_discard, folder)
        raise
    previous = slots.swap(module, model)
    try:
        await asyncio.to_thread(slots.get(module).health_check)
    except Exception as exc:
        if previous is not None:
            slots.swap(module, previous)
        else:
            slots.remove(module)
        await asyncio.to_thread(_discard, folder)
        raise InstallFailed("health_check", f"reverted: the new model failed once live: {exc}") from exc
    state.activate(
        module,
        InstalledRelease(
            counter=manifest.counter,
            version=manifest.version,
            model_id=manifest.model_id,
            folder=folder,
            installed_at=datetime.now(UTC),
        ),
    )
    state.save()
    kept = {r.counter for r in (state.module(module).active, state.module(module).previous) if r is not None}
    await asyncio.to_thread(prune, state.state_dir, module, kept)


def _discard(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)
    signature_path(folder).unlink(missing_ok=True)
