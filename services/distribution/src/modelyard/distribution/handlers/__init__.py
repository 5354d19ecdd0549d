"""Request/reply handlers of distribution (svc.distribution.*)."""

from __future__ import annotations

from faststream.nats import NatsBroker

from modelyard.distribution.deps import Deps
from modelyard.distribution.handlers import deployments, devices


def register(broker: NatsBroker, deps: Deps) -> None:
    devices.register(broker, deps)
    deployments.register(broker, deps)
