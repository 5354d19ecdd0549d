"""The distribution process: request/reply handlers, the devices' reports, and the retry loop."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from faststream.nats import NatsBroker

from modelyard.contracts.api.devices import DeploymentStatus
from modelyard.distribution import handlers, progress
from modelyard.distribution.deps import Deps
from modelyard.distribution.settings import SCHEMA, Settings
from modelyard.runtime import metrics, tasks
from modelyard.runtime.migrations import load_migrations
from modelyard.runtime.rpc import RpcClient
from modelyard.runtime.service import Resources, service_resources
from modelyard.runtime.storage import ObjectStore

DEPLOYMENTS = metrics.state_gauge("modelyard_deployments", "Deployments by state", "state")
DEVICES = metrics.state_gauge("modelyard_devices", "Enrolled devices, by whether they sent a heartbeat lately", "seen")


async def _sample(deps: Deps) -> None:
    rows = await deps.pool.fetch("SELECT status, count(*) AS n FROM deployments GROUP BY 1")
    counts = {r["status"]: r["n"] for r in rows}
    for state in DeploymentStatus:
        DEPLOYMENTS.labels(state.value).set(counts.get(state.value, 0))
    seen = await deps.pool.fetchrow(
        "SELECT count(*) FILTER (WHERE last_heartbeat_at > now() - interval '1 minute') AS recent, count(*) AS n "
        "FROM devices"
    )
    assert seen is not None
    DEVICES.labels("last_minute").set(seen["recent"])
    DEVICES.labels("silent").set(seen["n"] - seen["recent"])


@asynccontextmanager
async def lifespan(settings: Settings) -> AsyncIterator[tuple[Resources, Deps]]:
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
        deps = Deps(settings, pool, store, RpcClient(broker, timeout_s=settings.request_timeout_s))
        made.append(deps)
        handlers.register(broker, deps)
        progress.register(broker, deps)

    async with service_resources(
        settings, schema=SCHEMA, migrations=load_migrations("modelyard.distribution.migrations"), register=register
    ) as resources:
        retries = asyncio.create_task(progress.retry_loop(made[0]), name="distribution-retries")
        gauges = asyncio.create_task(metrics.sample_forever(lambda: _sample(made[0])), name="distribution-gauges")
        try:
            yield resources, made[0]
        finally:
            await tasks.stop(gauges)
            await tasks.stop(retries)
