import pytest
from nats.js.api import RetentionPolicy
from nats.js.errors import ServerError

from modelyard.contracts import streams
from modelyard.contracts.streams import ConsumerSpec
from modelyard.runtime import jetstream


async def test_declaring_every_stream_twice_is_harmless(nats_url: str) -> None:
    nc = await jetstream.connect(nats_url, "test")
    js = nc.jetstream()
    await jetstream.ensure_streams(js, streams.ALL_STREAMS)
    before = {s.config.name: s.created for s in await js.streams_info()}
    assert not await jetstream.ensure_streams(js, streams.ALL_STREAMS), "nothing to change the second time"
    assert {s.config.name: s.created for s in await js.streams_info()} == before
    names = {s.config.name for s in await js.streams_info()}
    assert names == {s.name for s in streams.ALL_STREAMS}
    dispatch = await js.stream_info("DISPATCH")
    assert RetentionPolicy(dispatch.config.retention) is RetentionPolicy.WORK_QUEUE
    await nc.close()


async def test_a_changed_stream_limit_is_applied_to_the_existing_stream(nats_url: str) -> None:
    nc = await jetstream.connect(nats_url, "test")
    js = nc.jetstream()
    await jetstream.ensure_streams(js, [streams.TELEMETRY])
    smaller = streams.StreamSpec("TELEMETRY", streams.TELEMETRY.subjects, max_age_s=3600.0, max_bytes=1024**2)
    await jetstream.ensure_streams(js, [smaller])
    info = await js.stream_info("TELEMETRY")
    assert info.config.max_age == 3600.0 and info.config.max_bytes == 1024**2
    await nc.close()


async def test_durable_consumer_carries_max_deliver_backoff_and_ack_wait(nats_url: str) -> None:
    nc = await jetstream.connect(nats_url, "test")
    js = nc.jetstream()
    await jetstream.ensure_streams(js, [streams.JOBS])
    spec = ConsumerSpec("JOBS", "scheduler-jobs", "job.>", ack_wait_s=20.0, max_deliver=5, backoff_s=(1.0, 2.0, 4.0))
    await jetstream.ensure_consumer(js, spec)
    await jetstream.ensure_consumer(js, spec)  # idempotent
    info = await js.consumer_info("JOBS", "scheduler-jobs")
    assert info.config.max_deliver == 5
    assert info.config.backoff == [20.0, 21.0, 22.0, 24.0]  # first = AckWait, then AckWait + pause
    assert info.config.ack_wait == 20.0
    assert info.config.filter_subject == "job.>"
    await nc.close()


async def test_the_replica_count_is_declared_and_reaches_the_server(nats_url: str) -> None:
    """One server (this one) holds R1 and refuses R3 for a new stream: the count is sent, not left to the server."""
    nc = await jetstream.connect(nats_url, "test")
    js = nc.jetstream()
    await jetstream.ensure_streams(js, [streams.MODELS], replicas=1)
    assert (await js.stream_info("MODELS")).config.num_replicas == 1
    assert not await jetstream.ensure_streams(js, [streams.MODELS], replicas=1)
    with pytest.raises(ServerError, match="replicas > 1 not supported"):
        await jetstream.ensure_streams(js, [streams.AUDIT], replicas=3)
    await nc.close()
