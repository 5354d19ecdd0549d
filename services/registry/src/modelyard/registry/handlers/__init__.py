"""Request/reply handlers of the registry (svc.registry.*)."""

from __future__ import annotations

from faststream.nats import NatsBroker

from modelyard.registry.deps import Deps
from modelyard.registry.handlers import models, releases


def register(broker: NatsBroker, deps: Deps) -> None:
    models.register(broker, deps)
    releases.register(broker, deps)
