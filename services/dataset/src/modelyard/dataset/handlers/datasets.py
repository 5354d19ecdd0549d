"""Datasets: create, read, list, change, archive, stats."""

from __future__ import annotations

from faststream.nats import NatsBroker

from modelyard.contracts import subjects
from modelyard.contracts.api.datasets import (
    Dataset,
    DatasetCreate,
    DatasetGet,
    DatasetList,
    DatasetQuery,
    DatasetStats,
    DatasetStatus,
    DatasetUpdate,
)
from modelyard.contracts.api.identity import Principal
from modelyard.contracts.envelope import Event
from modelyard.contracts.events import DatasetArchived, DatasetUpdated
from modelyard.dataset import domain
from modelyard.dataset.deps import Deps
from modelyard.dataset.errors import ClassListShrunk, DatasetIsArchived
from modelyard.dataset.settings import QUEUE
from modelyard.runtime import outbox
from modelyard.runtime.audit import audit
from modelyard.runtime.rpc import responder


def register(broker: NatsBroker, deps: Deps) -> None:
    repo = deps.datasets

    @responder(broker, subjects.SVC_DATASET_CREATE, DatasetCreate, queue=QUEUE)
    async def create(principal: Principal, spec: DatasetCreate, correlation_id: str) -> Dataset:
        dataset = domain.new_dataset(principal, spec)
        trail = audit(
            principal,
            correlation_id,
            service="dataset",
            action="created",
            resource_type="dataset",
            resource_id=dataset.id,
            name=dataset.name,
        )
        return await repo.create(dataset, domain.created_event(dataset, correlation_id), trail)

    @responder(broker, subjects.SVC_DATASET_GET, DatasetGet, queue=QUEUE)
    async def get(principal: Principal, query: DatasetGet, correlation_id: str) -> Dataset:
        return await repo.get(principal.org_id, query.id)

    @responder(broker, subjects.SVC_DATASET_LIST, DatasetQuery, queue=QUEUE)
    async def list_(principal: Principal, query: DatasetQuery, correlation_id: str) -> DatasetList:
        return await repo.page(principal.org_id, query)

    @responder(broker, subjects.SVC_DATASET_STATS, DatasetGet, queue=QUEUE)
    async def stats(principal: Principal, query: DatasetGet, correlation_id: str) -> DatasetStats:
        return await repo.stats(principal.org_id, query.id)

    @responder(broker, subjects.SVC_DATASET_UPDATE, DatasetUpdate, queue=QUEUE)
    async def update(principal: Principal, spec: DatasetUpdate, correlation_id: str) -> Dataset:
        changes = spec.model_dump(exclude_unset=True, exclude={"id"})
        async with deps.pool.acquire() as conn, conn.transaction():
            current = await repo.get_for_update(conn, principal.org_id, spec.id)
            changes = {k: v for k, v in changes.items() if v != getattr(current, k)}
            if not changes:
                return current
            if "class_names" in changes:
                new = changes["class_names"]
                if new[: len(current.class_names)] != current.class_names:
                    raise ClassListShrunk("class names may only be appended: labels refer to classes by index")
            if current.status is DatasetStatus.ARCHIVED and changes.get("status") is None:
                raise DatasetIsArchived(spec.id)
            dataset = await repo.update(conn, principal.org_id, spec.id, changes)
            events: list[Event] = [
                DatasetUpdated(
                    correlation_id=correlation_id,
                    org_id=principal.org_id,
                    actor=principal.actor,
                    dataset_id=spec.id,
                    changed=sorted(changes),
                )
            ]
            if dataset.status is DatasetStatus.ARCHIVED:
                events.append(
                    DatasetArchived(
                        correlation_id=correlation_id,
                        org_id=principal.org_id,
                        actor=principal.actor,
                        dataset_id=spec.id,
                        previous_status=current.status,
                    )
                )
            events.append(
                audit(
                    principal,
                    correlation_id,
                    service="dataset",
                    action="updated",
                    resource_type="dataset",
                    resource_id=spec.id,
                    changed=sorted(changes),
                )
            )
            await outbox.enqueue(conn, *events)
        return dataset
