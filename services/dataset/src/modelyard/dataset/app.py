"""The dataset service process: resources, handlers, the import worker and the upload sweeper."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from faststream.nats import NatsBroker

from modelyard.dataset import handlers
from modelyard.dataset.deps import Deps
from modelyard.dataset.importer import Importer
from modelyard.dataset.settings import SCHEMA, Settings
from modelyard.dataset.sweeper import sweeping
from modelyard.runtime.migrations import load_migrations
from modelyard.runtime.service import Resources, service_resources
from modelyard.runtime.storage import ObjectStore


def object_store(settings: Settings) -> ObjectStore:
    return ObjectStore(
        settings.s3_endpoint,
        settings.s3_access_key,
        settings.s3_secret_key.get_secret_value(),
        settings.s3_bucket,
        region=settings.s3_region,
    )


@asynccontextmanager
async def lifespan(settings: Settings) -> AsyncIterator[Resources]:
    store = object_store(settings)
    await store.ensure_bucket()
    deps: list[Deps] = []

    def register(broker: NatsBroker, pool: asyncpg.Pool) -> None:
        deps.append(Deps(settings, pool, store))
        handlers.register(broker, deps[0])
        Importer(deps[0]).register(broker)

    async with (
        service_resources(
            settings, schema=SCHEMA, migrations=load_migrations("modelyard.dataset.migrations"), register=register
        ) as resources,
        sweeping(deps[0]),
    ):
        yield resources
