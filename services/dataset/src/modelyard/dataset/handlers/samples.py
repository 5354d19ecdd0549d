"""Samples: list, add one, read one (with annotations and reviews), change, delete, review."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from faststream.nats import NatsBroker

from modelyard.contracts import subjects
from modelyard.contracts.api.identity import Principal
from modelyard.contracts.api.samples import (
    ReviewCreate,
    ReviewDecision,
    Sample,
    SampleCreate,
    SampleDetail,
    SampleList,
    SampleQuery,
    SampleRef,
    SampleStatus,
    SampleUpdate,
)
from modelyard.contracts.events import SampleDeleted, SampleReviewed, SamplesAdded, SampleUpdated
from modelyard.contracts.storage import blob_key
from modelyard.dataset import domain
from modelyard.dataset import labels as label_rules
from modelyard.dataset.deps import Deps
from modelyard.dataset.errors import BlobNotFound
from modelyard.dataset.settings import QUEUE
from modelyard.runtime import outbox
from modelyard.runtime.audit import audit
from modelyard.runtime.problems import Conflict
from modelyard.runtime.rpc import responder


def register(broker: NatsBroker, deps: Deps) -> None:
    repo = deps.samples

    @responder(broker, subjects.SVC_SAMPLE_LIST, SampleQuery, queue=QUEUE)
    async def list_(principal: Principal, query: SampleQuery, correlation_id: str) -> SampleList:
        await deps.datasets.get(principal.org_id, query.dataset_id)
        return await repo.page(principal.org_id, query)

    @responder(broker, subjects.SVC_SAMPLE_GET, SampleRef, queue=QUEUE)
    async def get(principal: Principal, ref: SampleRef, correlation_id: str) -> SampleDetail:
        detail = await repo.detail(principal.org_id, ref.dataset_id, ref.sample_id)
        url = await deps.store.presigned_get(blob_key(detail.sha256), timedelta(seconds=deps.settings.presign_ttl_s))
        return detail.model_copy(update={"download_url": url})

    @responder(broker, subjects.SVC_SAMPLE_ADD, SampleCreate, queue=QUEUE)
    async def add(principal: Principal, spec: SampleCreate, correlation_id: str) -> Sample:
        known = await repo.blob_known(principal.org_id, spec.sha256)
        if known is None or not await deps.store.exists(blob_key(spec.sha256)):
            raise BlobNotFound(spec.sha256)
        async with deps.pool.acquire() as conn, conn.transaction():
            dataset = await deps.datasets.get_writable(conn, principal.org_id, spec.dataset_id)
            label_rules.check(spec.labels, dataset.task, dataset.class_names)
            sample = domain.new_sample(
                dataset,
                kind=known["kind"],
                sha256=spec.sha256,
                size=known["size"],
                media_type=known["media_type"],
                labels=spec.labels,
                rating=spec.rating,
                split=spec.split,
                metadata=spec.metadata,
            )
            inserted = await repo.insert_many(conn, [sample], upload_id=None)
            if not inserted:
                raise Conflict(f"the dataset already holds a sample with sha256 {spec.sha256}")
            if sample.status is not SampleStatus.UNLABELED:
                await repo.annotate(conn, sample, principal.actor, spec.labels, spec.rating)
                sample = await repo.update(conn, sample.id, {"annotation_count": 1})
            await deps.datasets.recount(conn, dataset.id)
            await outbox.enqueue(
                conn,
                SamplesAdded(
                    correlation_id=correlation_id,
                    org_id=principal.org_id,
                    actor=principal.actor,
                    dataset_id=dataset.id,
                    count=1,
                    sample_ids=[sample.id],
                ),
                audit(
                    principal,
                    correlation_id,
                    service="dataset",
                    action="sample_added",
                    resource_type="sample",
                    resource_id=sample.id,
                    dataset_id=str(dataset.id),
                    sha256=sample.sha256,
                    status=sample.status.value,
                ),
            )
        return sample

    @responder(broker, subjects.SVC_SAMPLE_UPDATE, SampleUpdate, queue=QUEUE)
    async def update(principal: Principal, spec: SampleUpdate, correlation_id: str) -> Sample:
        given = spec.model_dump(exclude_unset=True, exclude={"dataset_id", "sample_id"})
        async with deps.pool.acquire() as conn, conn.transaction():
            dataset = await deps.datasets.get_writable(conn, principal.org_id, spec.dataset_id)
            sample = await repo.get(principal.org_id, spec.dataset_id, spec.sample_id, conn, lock=True)
            changes: dict[str, Any] = {}
            if "split" in given:
                changes["split"] = spec.split.value if spec.split else None
            if spec.metadata is not None:
                changes["metadata"] = sample.metadata.model_dump(
                    mode="json", exclude_none=True
                ) | spec.metadata.model_dump(mode="json", exclude_none=True)
            if "labels" in given or "rating" in given:
                labels = spec.labels if spec.labels is not None else sample.labels
                rating = spec.rating if "rating" in given else sample.rating
                label_rules.check(labels, dataset.task, dataset.class_names)
                everyone = await repo.annotate(conn, sample, principal.actor, labels, rating)
                changes |= {
                    "labels": labels.model_dump(mode="json"),
                    "rating": rating,
                    "status": domain.status_after_labeling(sample.status, labels, rating).value,
                    "annotation_count": len(everyone),
                    "agreement": label_rules.agreement(everyone),
                }
            if not changes:
                return sample
            updated = await repo.update(conn, sample.id, changes)
            await deps.datasets.recount(conn, dataset.id)
            await outbox.enqueue(
                conn,
                SampleUpdated(
                    correlation_id=correlation_id,
                    org_id=principal.org_id,
                    actor=principal.actor,
                    dataset_id=dataset.id,
                    sample_id=sample.id,
                    status=updated.status,
                    changed=sorted(changes),
                ),
                audit(
                    principal,
                    correlation_id,
                    service="dataset",
                    action="sample_updated",
                    resource_type="sample",
                    resource_id=sample.id,
                    dataset_id=str(dataset.id),
                    changed=sorted(changes),
                    status=updated.status.value,
                ),
            )
        return updated

    @responder(broker, subjects.SVC_SAMPLE_DELETE, SampleRef, queue=QUEUE)
    async def delete(principal: Principal, ref: SampleRef, correlation_id: str) -> Sample:
        async with deps.pool.acquire() as conn, conn.transaction():
            await deps.datasets.get_writable(conn, principal.org_id, ref.dataset_id)
            sample = await repo.get(principal.org_id, ref.dataset_id, ref.sample_id, conn, lock=True)
            await repo.delete(conn, sample)
            await deps.datasets.recount(conn, ref.dataset_id)
            await outbox.enqueue(
                conn,
                SampleDeleted(
                    correlation_id=correlation_id,
                    org_id=principal.org_id,
                    actor=principal.actor,
                    dataset_id=ref.dataset_id,
                    sample_id=sample.id,
                    sha256=sample.sha256,
                ),
                audit(
                    principal,
                    correlation_id,
                    service="dataset",
                    action="sample_deleted",
                    resource_type="sample",
                    resource_id=sample.id,
                    dataset_id=str(ref.dataset_id),
                ),
            )
        # The blob stays: it is content-addressed and other datasets or versions may hold the same bytes.
        return sample

    @responder(broker, subjects.SVC_SAMPLE_REVIEW, ReviewCreate, queue=QUEUE)
    async def review(principal: Principal, spec: ReviewCreate, correlation_id: str) -> Sample:
        async with deps.pool.acquire() as conn, conn.transaction():
            await deps.datasets.get_writable(conn, principal.org_id, spec.dataset_id)
            sample = await repo.get(principal.org_id, spec.dataset_id, spec.sample_id, conn, lock=True)
            if sample.status is SampleStatus.UNLABELED and sample.labels.empty and sample.rating is None:
                raise Conflict("the sample has no labels to review yet")
            status = SampleStatus.VERIFIED if spec.decision is ReviewDecision.APPROVE else SampleStatus.REJECTED
            await repo.add_review(conn, sample, principal.actor, spec.decision.value, spec.reason)
            updated = await repo.update(conn, sample.id, {"status": status.value})
            await deps.datasets.recount(conn, spec.dataset_id)
            await outbox.enqueue(
                conn,
                SampleReviewed(
                    correlation_id=correlation_id,
                    org_id=principal.org_id,
                    actor=principal.actor,
                    dataset_id=spec.dataset_id,
                    sample_id=sample.id,
                    decision=spec.decision,
                    reason=spec.reason,
                    status=status,
                ),
                audit(
                    principal,
                    correlation_id,
                    service="dataset",
                    action="sample_reviewed",
                    resource_type="sample",
                    resource_id=sample.id,
                    dataset_id=str(spec.dataset_id),
                    decision=spec.decision.value,
                    status=status.value,
                    reason=spec.reason,
                ),
            )
        return updated
