"""GET job status, answered from memory between the job's changes.

Status pages and CLIs poll a job every second or so while nothing changes for minutes. The first GET asks the
scheduler; its answer (already serialized) is kept until the job's next event on `job.>` or `telemetry.metrics.*`
(status changes, epochs, checkpoints: everything a job detail shows) or `ttl_s`, whichever comes first. Entries
are per organisation, so another org still gets its 404 from the scheduler.

A change that lands while the scheduler's answer is on its way must not leave that older answer behind: every
invalidation bumps the job's generation, and an answer is kept only if the generation it started under is still
current. Writes through this gateway (cancel, delete) invalidate before they answer, so a client reads its own
writes; other replicas see the change when its event arrives (milliseconds), or after `ttl_s` if a notice is lost
(a NATS reconnect).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Awaitable, Callable

from nats.aio.client import Client as Nats
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from modelyard.contracts import subjects

_MAX_ENTRIES = 10_000


class JobCache:
    def __init__(self, ttl_s: float) -> None:
        self.ttl_s = ttl_s
        self._entries: dict[tuple[uuid.UUID, uuid.UUID], tuple[float, bytes]] = {}
        self._generations: dict[uuid.UUID, int] = {}
        self._epoch = 0  # bumped when everything is dropped, so no answer started before survives it
        self._subscriptions: list[Subscription] = []

    async def start(self, nc: Nats) -> None:
        if self.ttl_s > 0:
            self._subscriptions = [
                await nc.subscribe(subjects.JOBS_ALL, cb=self._on_event),
                await nc.subscribe(subjects.telemetry_metrics("*"), cb=self._on_event),
            ]

    async def stop(self) -> None:
        for sub in self._subscriptions:
            await sub.unsubscribe()
        self._subscriptions = []

    async def get(self, org_id: uuid.UUID, job_id: uuid.UUID, fetch: Callable[[], Awaitable[bytes]]) -> bytes:
        if self.ttl_s <= 0:
            return await fetch()
        now = time.monotonic()
        hit = self._entries.get((org_id, job_id))
        if hit is not None and hit[0] > now:
            return hit[1]
        started = (self._epoch, self._generations.get(job_id, 0))
        body = await fetch()  # a 404 or any other problem raises: nothing is kept
        if started == (self._epoch, self._generations.get(job_id, 0)):
            if len(self._entries) >= _MAX_ENTRIES:
                self.clear()
            else:
                self._entries[(org_id, job_id)] = (now + self.ttl_s, body)
        return body

    def invalidate(self, job_id: uuid.UUID) -> None:
        self._generations[job_id] = self._generations.get(job_id, 0) + 1
        for key in [k for k in self._entries if k[1] == job_id]:
            del self._entries[key]
        if len(self._generations) >= _MAX_ENTRIES:
            self.clear()

    def clear(self) -> None:
        self._entries.clear()
        self._generations.clear()
        self._epoch += 1

    async def _on_event(self, msg: Msg) -> None:
        job_id = _job_of(msg)
        if job_id is None:
            self.clear()  # a job event this code cannot read: drop everything rather than guess
        else:
            self.invalidate(job_id)


def _job_of(msg: Msg) -> uuid.UUID | None:
    last = msg.subject.rsplit(".", 1)[-1]
    try:
        return uuid.UUID(last)
    except ValueError:
        pass
    try:
        found = json.loads(msg.data).get("job_id")
        return uuid.UUID(found) if isinstance(found, str) else None
    except (ValueError, AttributeError):
        return None
