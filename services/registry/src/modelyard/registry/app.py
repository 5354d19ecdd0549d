"""The registry process: request/reply handlers and the consumer that registers completed jobs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from faststream.nats import NatsBroker

from modelyard.registry import handlers, registration
from modelyard.registry.deps import Deps
from modelyard.registry.settings import SCHEMA, Settings
from modelyard.registry.signing import Signer
from modelyard.runtime.migrations import load_migrations
from modelyard.runtime.service import Resources, service_resources
from modelyard.runtime.storage import ObjectStore


@asynccontextmanager
async def lifespan(settings: Settings) -> AsyncIterator[tuple[Resources, Deps]]:
    signer = Signer.load(settings.signing_key_path, create=settings.create_signing_key)
    settings.work_dir.mkdir(parents=True, exist_ok=True)
    store = ObjectStore(
        settings.s3_endpoint,
        settings.s3_access_key,
        settings.s3_secret_key.get_secret_value(),
        settings.s3_bucket,
        region=settings.s3_region,
    )
    await store.ensure_bucket()
    made: list[Deps] = []

    def register(broker: NatsBroker, pool: asyncpg.Pool) -> None:
        deps = Deps(settings, pool, store, signer)
        made.append(deps)
        handlers.register(broker, deps)
        registration.register(broker, deps)

    async with service_resources(
        settings, schema=SCHEMA, migrations=load_migrations("modelyard.registry.migrations"), register=register
    ) as resources:
        yield resources, made[0]
