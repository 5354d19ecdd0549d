"""The dataset service process: resources, handlers, lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from faststream.nats import NatsBroker

from modelyard.dataset import handlers
from modelyard.dataset.repository import DatasetRepository
from modelyard.dataset.settings import SCHEMA, Settings
from modelyard.runtime.migrations import load_migrations
from modelyard.runtime.service import Resources, service_resources


@asynccontextmanager
async def lifespan(settings: Settings) -> AsyncIterator[Resources]:
    def register(broker: NatsBroker, pool: asyncpg.Pool) -> None:
        handlers.register(broker, DatasetRepository(pool))

    async with service_resources(
        settings, schema=SCHEMA, migrations=load_migrations("modelyard.dataset.migrations"), register=register
    ) as resources:
        yield resources
