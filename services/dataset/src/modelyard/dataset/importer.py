"""The import worker: consumes UploadFinalized, turns the uploaded file into samples, or fails the upload with
every problem found. Nothing is stored unless the whole upload is valid: the file is checked completely first,
then blobs go to S3 (content-addressed, so a retry or a shared image costs nothing), then one transaction adds the
samples, rating updates, counts and events. A redelivered event finds the upload no longer importing and stops.

The plan's dataset-size limit (`max_dataset_bytes`, of the plan the upload was finalized under) is checked with
the real sizes of the new samples: once before any blob is stored, and again in the transaction that adds them
(the dataset row is locked there, so two imports cannot both take the last room). Over the limit, the upload fails
with the reason like an invalid archive. Each outcome, completed or failed, is audited in its transaction, by the
user who finalized the upload."""

from __future__ import annotations

import asyncio
import hashlib
import tempfile
from pathlib import Path
from typing import Any

from faststream.nats import NatsBroker

from modelyard.contracts import plans, streams, subjects
from modelyard.contracts.api.datasets import Dataset
from modelyard.contracts.api.samples import Sample, SampleKind
from modelyard.contracts.api.uploads import UploadState
from modelyard.contracts.envelope import Event
from modelyard.contracts.events import AuditRecorded, SamplesAdded, UploadCompleted, UploadFailed, UploadFinalized
from modelyard.contracts.plans import Plan
from modelyard.contracts.storage import blob_key
from modelyard.contracts.streams import ConsumerSpec
from modelyard.dataset import domain
from modelyard.dataset.deps import Deps
from modelyard.dataset.errors import DatasetTooLarge, UploadHashMismatch
from modelyard.dataset.imports import (
    ImportedSample,
    ImportFailed,
    ImportProblem,
    ImportResult,
    UploadKind,
    run_import,
)
from modelyard.dataset.quality import image_quality
from modelyard.dataset.repository.uploads import UploadRow
from modelyard.runtime import outbox
from modelyard.runtime.consumer import event_consumer
from modelyard.runtime.logging import get_logger
from modelyard.runtime.problems import ServiceError

log = get_logger(__name__)

IMPORTER = ConsumerSpec(
    streams.DATASETS.name,
    "dataset-importer",
    subjects.DATASET_UPLOAD_FINALIZED,
    ack_wait_s=30.0,  # kept alive by in_progress() while an import runs (runtime.consumer)
    max_deliver=3,
    backoff_s=(10.0, 60.0),
    max_ack_pending=4,
    description="runs the import of each finalized upload",
)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _audit(event: UploadFinalized, action: str, **detail: Any) -> AuditRecorded:
    """The audit record of an import's outcome. The actor is the user who finalized the upload (the actor of the
    UploadFinalized event; the upload row keeps only who created it), else the service itself."""
    actor = event.actor if event.actor.startswith("user:") else "service:dataset"
    return event.caused(
        AuditRecorded,
        actor=actor,
        service="dataset",
        action=action,
        resource_type="upload",
        resource_id=str(event.upload_id),
        detail={"dataset_id": str(event.dataset_id)} | detail,
    )


def _dataset_limit(upload: UploadRow) -> tuple[Plan, int] | None:
    """The plan and its `max_dataset_bytes` the import must respect; None: no limit (or an upload stored before
    uploads recorded their plan: not checked)."""
    plan = upload.plan
    limit = plans.limits(plan).max_dataset_bytes if plan is not None else None
    return (plan, limit) if plan is not None and limit is not None else None


def _check_room(limited: tuple[Plan, int], current: int, added: int) -> None:
    """Refuse an import that would take the dataset past the limit; one that adds no bytes never fails here."""
    plan, limit = limited
    if added > 0 and current + added > limit:
        raise DatasetTooLarge(plan.value, limit, current, added, verb="adds")


class Importer:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    def register(self, broker: NatsBroker) -> None:
        @event_consumer(broker, IMPORTER, batch_size=1)
        async def on_finalized(event: Event) -> None:
            if isinstance(event, UploadFinalized):
                await self.run(event)

    async def run(self, event: UploadFinalized) -> None:
        deps = self.deps
        upload = await deps.uploads.get(None, event.upload_id)
        if upload.state is not UploadState.IMPORTING:
            return  # done already: a redelivery
        org_id = upload.row["org_id"]
        dataset = await deps.datasets.get(org_id, upload.row["dataset_id"])
        with tempfile.TemporaryDirectory(prefix="modelyard-import-") as tmp:
            source = Path(tmp) / "upload"
            stored = await deps.store.download(upload.row["s3_key"], source)
            try:
                if stored.sha256 != upload.row["sha256"] or stored.size != upload.row["size"]:
                    mismatch = UploadHashMismatch(upload.row["sha256"], stored.sha256 or "")
                    raise ImportFailed([ImportProblem(file=upload.row["filename"], line=None, message=mismatch.detail)])
                result = await asyncio.to_thread(
                    run_import,
                    UploadKind(upload.row["kind"]),
                    source,
                    Path(tmp) / "work",
                    task=dataset.task,
                    class_names=dataset.class_names,
                    upload_name=upload.row["filename"],
                )
                await self._check_references(dataset, result)
                await self._store(event, upload, dataset, result)
            except ImportFailed as failed:
                await self._fail(event, failed.problems)
            except ServiceError as refused:  # the dataset was archived meanwhile, or is full
                await self._fail(event, [ImportProblem(file=upload.row["filename"], line=None, message=refused.detail)])
        await deps.store.delete(upload.row["s3_key"])

    async def _check_references(self, dataset: Dataset, result: ImportResult) -> None:
        """Ratings for frames not in the upload must name frames the dataset holds."""
        if not result.rating_updates:
            return
        async with self.deps.pool.acquire() as conn:
            known = {
                r["path"]
                for r in await conn.fetch(
                    "SELECT metadata ->> 'source_path' AS path FROM samples WHERE dataset_id = $1", dataset.id
                )
                if r["path"]
            }
        names = known | {p.rsplit("/", 1)[-1] for p in known}
        missing = [u.frame_path for u in result.rating_updates if u.frame_path not in names]
        if missing:
            raise ImportFailed(
                [
                    ImportProblem(file=f, line=None, message="frame is neither in the upload nor in the dataset")
                    for f in missing
                ]
            )

    async def _store(self, event: UploadFinalized, upload: UploadRow, dataset: Dataset, result: ImportResult) -> None:
        deps = self.deps
        gate = asyncio.Semaphore(deps.settings.import_workers)

        async def digest(item: ImportedSample) -> str:
            async with gate:
                return await asyncio.to_thread(_sha256, item.file)

        shas = await asyncio.gather(*(digest(item) for item in result.samples))
        sizes = [item.file.stat().st_size for item in result.samples]
        limited = _dataset_limit(upload)
        if limited is not None:  # before any blob is stored: what the dataset does not hold yet must fit
            async with deps.pool.acquire() as conn:
                stored, held = await deps.datasets.stored_bytes(conn, dataset.id, shas)
            new = {sha: size for sha, size in zip(shas, sizes, strict=True) if sha not in held}
            _check_room(limited, stored, sum(new.values()))

        async def put(index: int) -> Sample:
            item, sha = result.samples[index], shas[index]
            async with gate:
                if not await deps.store.exists(blob_key(sha)):
                    await deps.store.put(blob_key(sha), item.file, content_type=item.media_type, expected_sha256=sha)
                quality = await asyncio.to_thread(image_quality, item.file) if item.kind is SampleKind.IMAGE else None
            return domain.new_sample(
                dataset,
                kind=item.kind,
                sha256=sha,
                size=sizes[index],
                media_type=item.media_type,
                labels=item.labels,
                rating=item.rating,
                split=item.split,
                metadata=item.metadata,
                quality=quality,
            )

        samples = await asyncio.gather(*(put(i) for i in range(len(result.samples))))
        async with deps.pool.acquire() as conn, conn.transaction():
            current = await deps.datasets.get_writable(conn, dataset.org_id, dataset.id)
            if result.class_names and result.class_names != current.class_names:
                await deps.datasets.update(conn, dataset.org_id, dataset.id, {"class_names": result.class_names})
            inserted = await deps.samples.insert_many(conn, samples, upload_id=event.upload_id)
            new_ids = set(inserted)
            added = sum(s.size for s in samples if s.id in new_ids)
            if limited is not None:  # again, under the dataset's lock; raising undoes the whole transaction
                after, _ = await deps.datasets.stored_bytes(conn, dataset.id)
                _check_room(limited, after - added, added)
            for update in result.rating_updates:
                await deps.samples.rate_by_source_path(conn, dataset.id, update.frame_path, update.rating)
            await deps.datasets.recount(conn, dataset.id)
            skipped = len(samples) - len(inserted)
            await deps.uploads.set_state(
                conn, event.upload_id, UploadState.COMPLETED, imported=len(inserted), skipped=skipped
            )
            await outbox.enqueue(
                conn,
                event.caused(
                    SamplesAdded,
                    dataset_id=dataset.id,
                    count=len(inserted),
                    skipped=skipped,
                    upload_id=event.upload_id,
                    sample_ids=inserted[:1000],
                ),
                event.caused(
                    UploadCompleted,
                    upload_id=event.upload_id,
                    dataset_id=dataset.id,
                    imported=len(inserted),
                    skipped=skipped,
                ),
                _audit(
                    event,
                    "upload_completed",
                    samples_added=len(inserted),
                    samples_skipped=skipped,
                    bytes_added=added,
                    ratings_updated=len(result.rating_updates),
                ),
            )
        log.info("import.completed", upload_id=str(event.upload_id), imported=len(inserted), skipped=skipped)

    async def _fail(self, event: UploadFinalized, problems: list[ImportProblem]) -> None:
        listed: list[dict[str, Any]] = [{"file": p.file, "line": p.line, "message": p.message} for p in problems[:1000]]
        first = problems[0] if problems else None
        where = f"{first.file}" + (f":{first.line}" if first and first.line else "") if first else ""
        error = f"{len(problems)} problem(s); first: {where}: {first.message}" if first else "import failed"
        async with self.deps.pool.acquire() as conn, conn.transaction():
            await self.deps.uploads.set_state(conn, event.upload_id, UploadState.FAILED, error=error, problems=listed)
            await outbox.enqueue(
                conn,
                event.caused(
                    UploadFailed,
                    upload_id=event.upload_id,
                    dataset_id=event.dataset_id,
                    error=error,
                    problems=listed[:100],
                ),
                _audit(event, "upload_failed", reason=error, problems=len(problems)),
            )
        log.info("import.failed", upload_id=str(event.upload_id), problems=len(problems))
