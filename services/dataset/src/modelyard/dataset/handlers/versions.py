"""Versions: publish an immutable manifest (same content → same version), list, read, export as a zip."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from datetime import timedelta
from pathlib import Path

from faststream.nats import NatsBroker

from modelyard.contracts import subjects
from modelyard.contracts.api.identity import Principal
from modelyard.contracts.api.samples import Split
from modelyard.contracts.api.versions import (
    DatasetRef,
    DatasetVersion,
    ExportLink,
    Manifest,
    VersionCreate,
    VersionList,
    VersionRef,
)
from modelyard.contracts.events import DatasetVersionPublished
from modelyard.contracts.storage import manifest_key
from modelyard.dataset import manifest as manifests
from modelyard.dataset.blobs import export_key
from modelyard.dataset.deps import Deps
from modelyard.dataset.errors import NothingToPublish
from modelyard.dataset.settings import QUEUE
from modelyard.runtime import outbox
from modelyard.runtime.audit import audit
from modelyard.runtime.errors import ObjectNotFound
from modelyard.runtime.rpc import responder
from modelyard.runtime.ultralytics_dataset import write_ultralytics_dataset


def register(broker: NatsBroker, deps: Deps) -> None:
    repo = deps.versions

    @responder(broker, subjects.SVC_VERSION_PUBLISH, VersionCreate, queue=QUEUE)
    async def publish(principal: Principal, spec: VersionCreate, correlation_id: str) -> DatasetVersion:
        async with deps.pool.acquire() as conn, conn.transaction():
            dataset = await deps.datasets.get_writable(conn, principal.org_id, spec.dataset_id)
            manifest = manifests.build(dataset, await deps.samples.all_of(conn, dataset.id), spec)
            if not manifest.samples:
                raise NothingToPublish(spec.include.value)
            digest = manifests.sha256(manifest)
            existing = await repo.by_manifest(conn, dataset.id, digest)
            if existing is not None:
                return existing
            key = manifest_key(digest)
            await deps.store.put(key, manifests.canonical(manifest), content_type="application/json")
            val = sum(1 for s in manifest.samples if s.split is Split.VAL)
            version = await repo.insert(
                conn,
                {
                    "dataset_id": dataset.id,
                    "org_id": principal.org_id,
                    "manifest_sha256": digest,
                    "manifest_key": key,
                    "include": spec.include.value,
                    "val_fraction": spec.val_fraction,
                    "seed": spec.seed,
                    "sample_count": len(manifest.samples),
                    "train_count": len(manifest.samples) - val,
                    "val_count": val,
                    "class_names": manifest.class_names,
                    "created_by": principal.actor,
                },
            )
            await outbox.enqueue(
                conn,
                DatasetVersionPublished(
                    correlation_id=correlation_id,
                    org_id=principal.org_id,
                    actor=principal.actor,
                    dataset_id=dataset.id,
                    version=version.version,
                    manifest_sha256=digest,
                    manifest_key=key,
                    sample_count=version.sample_count,
                ),
                audit(
                    principal,
                    correlation_id,
                    service="dataset",
                    action="version_published",
                    resource_type="dataset_version",
                    resource_id=f"{dataset.id}:{version.version}",
                    manifest_sha256=digest,
                ),
            )
        return version

    @responder(broker, subjects.SVC_VERSION_LIST, DatasetRef, queue=QUEUE)
    async def list_(principal: Principal, ref: DatasetRef, correlation_id: str) -> VersionList:
        await deps.datasets.get(principal.org_id, ref.dataset_id)
        return VersionList(versions=await repo.page(principal.org_id, ref.dataset_id))

    @responder(broker, subjects.SVC_VERSION_GET, VersionRef, queue=QUEUE)
    async def get(principal: Principal, ref: VersionRef, correlation_id: str) -> DatasetVersion:
        return await repo.get(principal.org_id, ref.dataset_id, ref.version)

    @responder(broker, subjects.SVC_VERSION_EXPORT, VersionRef, queue=QUEUE)
    async def export(principal: Principal, ref: VersionRef, correlation_id: str) -> ExportLink:
        """The version as an Ultralytics dataset in a zip; built once per manifest, then served from S3."""
        version = await repo.get(principal.org_id, ref.dataset_id, ref.version)
        key = export_key(version.manifest_sha256)
        try:
            stored = await deps.store.stat(key)
            digest = (await deps.store.get(key + ".sha256")).decode()
        except ObjectNotFound:
            manifest = Manifest.model_validate_json(await deps.store.get(version.manifest_key))
            with tempfile.TemporaryDirectory(prefix="modelyard-export-") as tmp:
                root = Path(tmp) / f"{ref.dataset_id}-v{ref.version}"
                await write_ultralytics_dataset(manifest, deps.store, root)
                archive = await asyncio.to_thread(shutil.make_archive, str(root), "zip", root)
                stored = await deps.store.put(key, Path(archive), content_type="application/zip")
            digest = stored.sha256 or ""
            await deps.store.put(key + ".sha256", digest.encode(), content_type="text/plain")
        ttl = deps.settings.presign_ttl_s
        url = await deps.store.presigned_get(key, timedelta(seconds=ttl))
        return ExportLink(url=url, sha256=digest, size=stored.size, expires_in_s=ttl)
