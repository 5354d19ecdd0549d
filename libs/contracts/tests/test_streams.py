import pytest

from modelyard.contracts import streams, subjects
from modelyard.contracts.streams import ConsumerSpec, Retention


def test_every_stream_of_the_architecture_is_declared() -> None:
    names = {s.name for s in streams.ALL_STREAMS}
    assert names == {"DATASETS", "JOBS", "DISPATCH", "TELEMETRY", "MODELS", "EDGE", "AUDIT", "DLQ"}


def test_no_subject_is_captured_by_two_streams() -> None:
    for subject in [
        "dataset.created",
        "job.x",
        "dispatch.gpu.high",
        "telemetry.metrics.j",
        "model.x",
        "edge.deploy.o.d",
        "audit.user.created",
        "dlq.job.x",
    ]:
        owners = [s.name for s in streams.ALL_STREAMS if any(subjects.matches(p, subject) for p in s.subjects)]
        assert len(owners) == 1, (subject, owners)


def test_dispatch_is_a_work_queue() -> None:
    assert streams.stream_for(subjects.dispatch("gpu", "high")).retention is Retention.WORK_QUEUE


def test_consumer_backoff_must_be_shorter_than_max_deliver() -> None:
    with pytest.raises(ValueError, match="backoff"):
        ConsumerSpec("JOBS", "x", "job.>", max_deliver=2, backoff_s=(1.0, 2.0))
