"""Prometheus metrics every service exposes on `/metrics`: events handled per consumer and outcome, handler
latency, outbox lag; plus what a service adds with `state_gauge` (jobs by state, deployments by state, ...).
Services without an HTTP API serve them on `metrics_port` (settings; 0 = off) with prometheus_client's own
server; the gateway serves them on its API port."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from prometheus_client import Counter, Gauge, Histogram, start_http_server

from modelyard.runtime.logging import get_logger

log = get_logger(__name__)

EVENTS_HANDLED = Counter(
    "modelyard_events_handled_total",
    "Events a durable consumer handled, by outcome (ack, retry, dead_letter, undecodable)",
    ["consumer", "outcome"],
)
HANDLER_SECONDS = Histogram(
    "modelyard_event_handler_seconds",
    "Time an event handler took",
    ["consumer"],
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
OUTBOX_UNSENT = Gauge("modelyard_outbox_unsent", "Events written but not yet published", ["schema"])
OUTBOX_LAG_SECONDS = Gauge("modelyard_outbox_lag_seconds", "Age of the oldest unsent outbox event", ["schema"])
OUTBOX_PUBLISHED = Counter("modelyard_outbox_published_total", "Events the outbox relay published", ["schema"])


def serve(port: int) -> None:
    """Start the /metrics listener (a daemon thread) unless port is 0."""
    if port:
        start_http_server(port)
        log.info("metrics.serving", port=port)


def state_gauge(name: str, help_text: str, label: str) -> Gauge:
    return Gauge(name, help_text, [label])


async def sample_forever(sample: Callable[[], Awaitable[None]], every_s: float = 5.0) -> None:
    """Refresh gauges that come from the database (jobs by state, outbox lag) every few seconds."""
    while True:
        try:
            await sample()
        except Exception as exc:  # noqa: BLE001 - a metric must never stop a service
            log.warning("metrics.sample_failed", error=repr(exc))
        await asyncio.sleep(every_s)
