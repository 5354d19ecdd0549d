"""Building one signed release: the version's ONNX model and a release.json describing it, in one directory signed
with model-signing; the three files go to S3 under the module's new counter. Runs inside the caller's transaction,
which holds the module's row lock: counters are taken one at a time and a failure anywhere commits nothing."""

from __future__ import annotations

import asyncio
import json
import shutil
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from modelyard.contracts.api.identity import Principal
from modelyard.contracts.api.models import Lineage, Release, ReleaseFile
from modelyard.contracts.api.training import Artifact
from modelyard.contracts.storage import release_key
from modelyard.registry.deps import Deps
from modelyard.registry.errors import LifecycleConflict
from modelyard.runtime.errors import ChecksumMismatch

FORMAT = "modelyard-release/1"
MODEL_FILE = "model.onnx"
MANIFEST_FILE = "release.json"
SIGNATURE_FILE = "model.sig"


def onnx_artifact(model: asyncpg.Record) -> Artifact:
    for artifact in model["artifacts"]:
        if artifact["name"].endswith(".onnx"):
            return Artifact.model_validate(artifact)
    raise LifecycleConflict(f"model version {model['version']} has no ONNX model to release", model_id=str(model["id"]))


def manifest(
    model: asyncpg.Record,
    counter: int,
    kind: str,
    issued_at: datetime,
    expires_at: datetime,
    platforms: list[str],
    hardware: list[str],
    onnx: Artifact,
    key_id: str,
) -> dict[str, Any]:
    """release.json: what the edge enforces after the signature checks out (counter, expiry, hardware)."""
    lineage = Lineage.model_validate(model["lineage"])
    return {
        "format": FORMAT,
        "org_id": str(model["org_id"]),
        "ai_module": model["ai_module"],
        "model_id": str(model["id"]),
        "version": model["version"],
        "task": model["task"],
        "framework": model["framework"],
        "counter": counter,
        "kind": kind,
        "issued_at": issued_at.isoformat(),
        "expires_at": expires_at.isoformat(),
        "platforms": platforms,
        "hardware": hardware,
        "key_id": key_id,
        "files": {MODEL_FILE: {"sha256": onnx.sha256, "size": onnx.size}},
        "metrics": model["metrics"],
        "lineage": {
            "job_id": str(lineage.job_id),
            "attempt": lineage.attempt,
            "dataset_id": str(lineage.dataset_id),
            "dataset_version": lineage.dataset_version,
            "manifest_sha256": lineage.manifest_sha256,
            "config_sha256": lineage.config_sha256,
            "base_version": lineage.base_version,
        },
    }


async def build(
    deps: Deps,
    conn: asyncpg.Connection,
    principal: Principal,
    model: asyncpg.Record,
    *,
    kind: str,
    reason: str,
    expires_in_days: int,
    platforms: list[str],
    hardware: list[str],
) -> Release:
    """Sign and store the release of `model` under the module's next counter, and record it; the caller holds the
    model's and the module's row locks and commits (or not) the whole step."""
    onnx = onnx_artifact(model)
    counter = await deps.modules.next_counter(conn, model["org_id"], model["ai_module"])
    issued_at = datetime.now(UTC)
    expires_at = issued_at + timedelta(days=expires_in_days)
    signer = deps.signer
    work = deps.settings.work_dir.resolve() / f"release-{uuid.uuid4().hex}"
    folder = work / "release"
    folder.mkdir(parents=True)
    try:
        stored = await deps.store.download(onnx.key, folder / MODEL_FILE)
        if stored.sha256 != onnx.sha256:
            raise ChecksumMismatch(key=onnx.key, expected=onnx.sha256, actual=stored.sha256 or "")
        body = manifest(model, counter, kind, issued_at, expires_at, platforms, hardware, onnx, signer.key_id)
        (folder / MANIFEST_FILE).write_text(json.dumps(body, indent=2, sort_keys=True) + "\n")
        await asyncio.to_thread(signer.sign, folder, work / SIGNATURE_FILE)
        files = []
        for path in (folder / MODEL_FILE, folder / MANIFEST_FILE):
            key = release_key(model["org_id"], model["ai_module"], counter, path.name)
            put = await deps.store.put(key, path)
            files.append(ReleaseFile(name=path.name, key=key, sha256=put.sha256 or "", size=put.size))
        signature_key = release_key(model["org_id"], model["ai_module"], counter, SIGNATURE_FILE)
        await deps.store.put(signature_key, work / SIGNATURE_FILE, content_type="application/json")
    finally:
        await asyncio.to_thread(shutil.rmtree, work, True)
    release = Release(
        id=uuid.uuid4(),
        org_id=model["org_id"],
        ai_module=model["ai_module"],
        model_id=model["id"],
        version=model["version"],
        counter=counter,
        kind=kind,
        reason=reason,
        files=files,
        signature_key=signature_key,
        key_id=signer.key_id,
        issued_at=issued_at,
        expires_at=expires_at,
        released_by=principal.actor,
    )
    await deps.releases.insert(conn, release, platforms, hardware)
    return release
