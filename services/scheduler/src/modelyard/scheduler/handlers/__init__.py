"""Request/reply handlers of the scheduler (svc.scheduler.*)."""

from __future__ import annotations

from faststream.nats import NatsBroker

from modelyard.scheduler.deps import Deps
from modelyard.scheduler.handlers import config, jobs


def register(broker: NatsBroker, deps: Deps) -> None:
    config.register(broker)
    jobs.register(broker, deps)
