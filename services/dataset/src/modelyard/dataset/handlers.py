"""Request/reply handlers of the dataset service (svc.dataset.*)."""

from __future__ import annotations

from faststream.nats import NatsBroker

from modelyard.contracts import subjects
from modelyard.contracts.api.datasets import Dataset, DatasetCreate, DatasetGet
from modelyard.contracts.api.identity import Principal
from modelyard.dataset import domain
from modelyard.dataset.repository import DatasetRepository
from modelyard.dataset.settings import QUEUE
from modelyard.runtime.rpc import responder


def register(broker: NatsBroker, repo: DatasetRepository) -> None:
    @responder(broker, subjects.SVC_DATASET_CREATE, DatasetCreate, queue=QUEUE)
    async def create(principal: Principal, spec: DatasetCreate, correlation_id: str) -> Dataset:
        dataset = domain.new_dataset(principal, spec)
        return await repo.create(dataset, domain.created_event(dataset, correlation_id))

    @responder(broker, subjects.SVC_DATASET_GET, DatasetGet, queue=QUEUE)
    async def get(principal: Principal, query: DatasetGet, correlation_id: str) -> Dataset:
        return await repo.get(principal.org_id, query.id)
