"""The scheduler process: request/reply handlers, the trainers' reports, and the retry loop."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from faststream.nats import NatsBroker

from modelyard.contracts.api.training import JobStatus
from modelyard.runtime import metrics, tasks
from modelyard.runtime.logging import get_logger
from modelyard.runtime.migrations import load_migrations
from modelyard.runtime.rpc import RpcClient
from modelyard.runtime.service import Resources, service_resources
from modelyard.runtime.storage import ObjectStore
from modelyard.scheduler import handlers
from modelyard.scheduler.deps import Deps
from modelyard.scheduler.lost import watch_lost_dispatches
from modelyard.scheduler.reports import Reports, dispatch_due_retries
from modelyard.scheduler.settings import SCHEMA, Settings

log = get_logger(__name__)


async def _retry_loop(deps: Deps) -> None:
    while True:
        try:
            await dispatch_due_retries(deps)
        except Exception as exc:  # noqa: BLE001 - the next round tries again
            log.warning("retries.failed", error=repr(exc))
        await asyncio.sleep(deps.settings.retry_poll_s)


JOBS = metrics.state_gauge("modelyard_jobs", "Training jobs by state", "state")


async def _sample_jobs(deps: Deps) -> None:
    counts = {r["status"]: r["n"] for r in await deps.pool.fetch("SELECT status, count(*) AS n FROM jobs GROUP BY 1")}
    for state in JobStatus:
        JOBS.labels(state.value).set(counts.get(state.value, 0))


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
        Reports(deps).register(broker)

    async with service_resources(
        settings, schema=SCHEMA, migrations=load_migrations("modelyard.scheduler.migrations"), register=register
    ) as resources:
        task = asyncio.create_task(_retry_loop(made[0]), name="scheduler-retries")
        gauges = asyncio.create_task(metrics.sample_forever(lambda: _sample_jobs(made[0])), name="scheduler-gauges")
        advisories = await watch_lost_dispatches(made[0], resources.nc)
        try:
            yield resources, made[0]
        finally:
            await advisories.unsubscribe()
            await tasks.stop(gauges)
            await tasks.stop(task)
