"""NATS connection and idempotent declaration of the streams and durable consumers described in contracts."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import nats
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import NotFoundError

from modelyard.contracts.streams import ConsumerSpec, Retention, StreamSpec
from modelyard.runtime.logging import get_logger

log = get_logger(__name__)

_RETENTION = {Retention.LIMITS: RetentionPolicy.LIMITS, Retention.WORK_QUEUE: RetentionPolicy.WORK_QUEUE}


async def connect(url: str, name: str, *, connect_timeout: float = 5.0) -> NatsClient:
    """A connection that reconnects forever once up (the server may restart under a running service)."""

    async def on_error(exc: Exception) -> None:
        log.warning("nats.error", error=str(exc))

    return await nats.connect(
        url,
        name=name,
        connect_timeout=connect_timeout,
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.5,
        error_cb=on_error,
    )


def stream_config(spec: StreamSpec, replicas: int = 1) -> StreamConfig:
    """`replicas` is the deployment's (a setting), not the stream's: the same streams run R1 on one server and R3 on
    a three-server cluster. It is always declared, so a stream update never drops it back to the server's default."""
    return StreamConfig(
        name=spec.name,
        description=spec.description or None,
        subjects=list(spec.subjects),
        retention=_RETENTION[spec.retention],
        storage=StorageType.FILE,
        max_age=spec.max_age_s,
        max_bytes=spec.max_bytes,
        duplicate_window=spec.duplicate_window_s,
        num_replicas=replicas,
    )


def consumer_config(spec: ConsumerSpec) -> ConsumerConfig:
    """Named as well as durable: nats-py then creates it on `$JS.API.CONSUMER.CREATE.<stream>.<name>.<filter>`, a
    subject that carries the filter, so a service's NATS credentials can allow its consumers with their filters
    and nothing wider (runtime.natsauth)."""
    return ConsumerConfig(
        name=spec.durable,
        durable_name=spec.durable,
        description=spec.description or None,
        filter_subject=spec.filter_subject,
        ack_policy=AckPolicy.EXPLICIT,
        ack_wait=spec.ack_wait_s,
        max_deliver=spec.max_deliver,
        backoff=list(spec.server_backoff_s) or None,
        max_ack_pending=spec.max_ack_pending,
    )


def _differs(want: dict[str, Any], have: dict[str, Any]) -> bool:
    return any(have.get(key) != value for key, value in want.items() if value is not None)


async def ensure_stream(js: JetStreamContext, config: StreamConfig) -> bool:
    """Create the stream, or bring an existing one in line with the config; True if anything changed.
    Safe to call from every process at every start."""
    assert config.name is not None
    try:
        info = await js.stream_info(config.name)
    except NotFoundError:
        await js.add_stream(config)
        log.info("jetstream.stream_created", stream=config.name)
        return True
    if _differs(config.as_dict(), info.config.as_dict()):
        await js.update_stream(config)
        log.info("jetstream.stream_updated", stream=config.name)
        return True
    return False


async def ensure_streams(js: JetStreamContext, specs: Iterable[StreamSpec], replicas: int = 1) -> list[str]:
    """Names of the streams created or changed."""
    return [spec.name for spec in specs if await ensure_stream(js, stream_config(spec, replicas))]


async def ensure_consumer(js: JetStreamContext, spec: ConsumerSpec) -> None:
    """Create or update a durable pull consumer (the server treats an identical create as a no-op)."""
    await js.add_consumer(spec.stream, consumer_config(spec))
