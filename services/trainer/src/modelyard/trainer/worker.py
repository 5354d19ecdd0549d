"""The trainer worker: stateless, one job at a time, higher priority first.

Each priority of the pool has its own durable consumer on the DISPATCH work queue. When idle, the worker asks
each consumer, highest priority first, whether it holds a message, and sleeps on a doorbell (a plain subscription
to the pool's dispatch subjects) until a new job is published; a slow poll also picks up redeliveries whose lease
ran out. The worker claims the job from the scheduler (getting the attempt number that fences its reports),
runs it, and acknowledges the message only when the attempt is over: if this process dies, JetStream hands the
message to another trainer once the lease (AckWait) expires, and that trainer resumes from the last checkpoint.
"""

from __future__ import annotations

import asyncio
import contextlib

from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeout
from nats.js import JetStreamContext

from modelyard.contracts import envelope, streams, subjects
from modelyard.contracts.api.training import Priority
from modelyard.contracts.events import JobDispatched
from modelyard.runtime import jetstream, metrics
from modelyard.runtime.logging import bound, get_logger
from modelyard.runtime.storage import ObjectStore
from modelyard.trainer.attempt import Attempt
from modelyard.trainer.claims import ClaimDenied, SchedulerUnavailable, claim
from modelyard.trainer.settings import Settings

log = get_logger(__name__)
BUSY = metrics.state_gauge("modelyard_trainer_busy", "1 while this trainer runs a job", "pool")
PRIORITIES = (Priority.HIGH, Priority.NORMAL, Priority.LOW)
IDLE_POLL_S = 1.0


class Worker:
    def __init__(self, settings: Settings, nc: NatsClient, store: ObjectStore) -> None:
        self.settings, self.nc, self.store = settings, nc, store
        self.js: JetStreamContext = nc.jetstream()
        self.doorbell = asyncio.Event()
        self.specs = [streams.dispatch_consumer(settings.pool.value, p.value, settings.lease_s) for p in PRIORITIES]
        self.subs: list[JetStreamContext.PullSubscription] = []
        self.jobs_done = 0
        self.current: Attempt | None = None

    async def start(self) -> None:
        await jetstream.ensure_streams(self.js, streams.ALL_STREAMS, self.settings.stream_replicas)
        for spec in self.specs:
            await jetstream.ensure_consumer(self.js, spec)
            self.subs.append(await self.js.pull_subscribe_bind(spec.durable, spec.stream))
        await self.nc.subscribe(f"dispatch.{self.settings.pool.value}.>", cb=self._ring)

    async def _ring(self, _: Msg) -> None:
        self.doorbell.set()

    async def next_message(self) -> Msg:
        while True:
            self.doorbell.clear()
            for spec, sub in zip(self.specs, self.subs, strict=True):
                info = await self.js.consumer_info(spec.stream, spec.durable)
                if info.num_pending or info.num_ack_pending:
                    with contextlib.suppress(NatsTimeout, TimeoutError):
                        msgs = await sub.fetch(1, timeout=0.1 if info.num_pending else 0.02)
                        if msgs:
                            return msgs[0]
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.doorbell.wait(), IDLE_POLL_S)

    async def serve_forever(self) -> None:
        while True:
            await self.handle(await self.next_message())

    async def handle(self, msg: Msg) -> None:
        try:
            dispatched = envelope.decode(msg.data)
        except ValueError:
            log.warning("dispatch.undecodable", subject=msg.subject)
            await msg.term()
            return
        if not isinstance(dispatched, JobDispatched):
            await msg.term()
            return
        delivery = msg.metadata.num_delivered or 1
        cancel = asyncio.Event()

        async def on_cancel(_: Msg) -> None:
            cancel.set()

        # listen before claiming: a cancel sent right after the claim must not slip past
        listener = await self.nc.subscribe(subjects.job_cancel(dispatched.job_id), cb=on_cancel)
        try:
            await self._run(msg, dispatched, delivery, cancel)
        finally:
            await listener.unsubscribe()

    async def _run(self, msg: Msg, dispatched: JobDispatched, delivery: int, cancel: asyncio.Event) -> None:
        with bound(job_id=str(dispatched.job_id), delivery=delivery):
            try:
                grant = await claim(self.nc, dispatched.job_id, self.settings.trainer_id, delivery)
            except ClaimDenied as denied:
                log.info("dispatch.dropped", reason=str(denied))
                await msg.ack_sync() if denied.gone else await msg.nak(delay=5)
                return
            except SchedulerUnavailable:
                await msg.nak(delay=2)
                return
            log.info("job.started", attempt=grant.attempt, resume=bool(grant.resume_key))
            self.current = Attempt(self.settings, self.nc, self.store, grant, msg, cancel)
            BUSY.labels(self.settings.pool.value).set(1)
            try:
                outcome = await self.current.run()
            finally:
                self.current = None
                BUSY.labels(self.settings.pool.value).set(0)
            await msg.ack_sync()
            self.jobs_done += 1
            log.info("job.finished", outcome=outcome, attempt=grant.attempt)
