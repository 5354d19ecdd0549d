"""Request/reply handlers of the dataset service (svc.dataset.*), one module per resource."""

from __future__ import annotations

from faststream.nats import NatsBroker

from modelyard.dataset.deps import Deps
from modelyard.dataset.handlers import datasets, samples, uploads, versions


def register(broker: NatsBroker, deps: Deps) -> None:
    for module in (datasets, uploads, samples, versions):
        module.register(broker, deps)
