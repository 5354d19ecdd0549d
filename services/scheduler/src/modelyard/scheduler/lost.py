"""Jobs no trainer could finish. When every trainer that took a job's dispatch message died with it (the lease ran
out MaxDeliver times), JetStream stops redelivering and says so in an advisory; the scheduler then fails the job
with that reason and removes the dead message from the work queue, instead of leaving the job `running`."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from modelyard.contracts import envelope, streams
from modelyard.contracts.api.training import JobStatus
from modelyard.contracts.events import JobDispatched
from modelyard.runtime.logging import get_logger
from modelyard.scheduler import lifecycle
from modelyard.scheduler.deps import Deps
from modelyard.scheduler.errors import JobNotFound

log = get_logger(__name__)
MAX_DELIVERIES_ADVISORY = f"$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.{streams.DISPATCH.name}.*"


async def fail_lost_job(deps: Deps, dispatched: JobDispatched, deliveries: int) -> bool:
    """True when the job was failed (False: it had finished or was gone already)."""
    async with deps.pool.acquire() as conn, conn.transaction():
        try:
            job = await deps.jobs.row(None, dispatched.job_id, conn, lock=True)
        except JobNotFound:
            return False
        if job.status.final:
            return False
        error = (
            f"no trainer finished the job: its dispatch message was delivered {deliveries} times and each trainer "
            "that took it stopped without reporting (crashed, killed or lost)"
        )
        await lifecycle.change(
            conn,
            deps.jobs,
            job,
            {"status": JobStatus.FAILED.value, "error_message": error, "finished_at": datetime.now(UTC)},
            dispatched.correlation_id,
            cause=dispatched,  # audited as `job.failed` by the scheduler (the dispatch's actor)
        )
    return True


async def watch_lost_dispatches(deps: Deps, nc: NatsClient) -> Subscription:
    js = nc.jetstream()

    async def on_advisory(msg: Msg) -> None:
        try:
            advisory = json.loads(msg.data)
            sequence = int(advisory["stream_seq"])
            stored = await js.get_msg(streams.DISPATCH.name, sequence)
            dispatched = envelope.decode(stored.data or b"")
        except Exception as exc:  # noqa: BLE001 - an advisory we cannot follow is logged, not fatal
            log.warning("dispatch.advisory_unreadable", error=repr(exc))
            return
        if isinstance(dispatched, JobDispatched) and await fail_lost_job(
            deps, dispatched, int(advisory.get("deliveries", 0))
        ):
            log.warning("job.lost", job_id=str(dispatched.job_id), deliveries=advisory.get("deliveries"))
        await js.delete_msg(streams.DISPATCH.name, sequence)

    return await nc.subscribe(MAX_DELIVERIES_ADVISORY, cb=on_advisory)
