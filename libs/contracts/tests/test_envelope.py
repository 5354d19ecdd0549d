from typing import Any, ClassVar
from uuid import uuid4

import pytest

from modelyard.contracts import envelope, subjects
from modelyard.contracts.envelope import Event, UnknownEvent, decode, register_upcaster
from modelyard.contracts.events import DatasetCreated


def _created(**over: Any) -> DatasetCreated:
    fields: dict[str, Any] = {
        "correlation_id": "corr-1",
        "org_id": uuid4(),
        "actor": "user:1",
        "dataset_id": uuid4(),
        "name": "cars",
        "task": "detect",
    }
    return DatasetCreated(**(fields | over))


def test_event_round_trips_through_bytes_with_its_envelope() -> None:
    event = _created()
    back = decode(event.encode())
    assert back == event
    assert isinstance(back, DatasetCreated)
    assert back.event_type == "DatasetCreated"
    assert back.schema_version == 1


def test_headers_carry_event_id_for_jetstream_dedup() -> None:
    event = _created()
    assert event.headers()[envelope.MSG_ID_HEADER] == str(event.event_id)
    assert event.nats_subject == subjects.DATASET_CREATED


def test_events_are_frozen() -> None:
    event = _created()
    with pytest.raises(ValueError, match="frozen"):
        event.name = "other"  # type: ignore[misc]


def test_caused_event_keeps_correlation_and_points_at_its_cause() -> None:
    first = _created()
    second = first.caused(DatasetCreated, dataset_id=uuid4(), name="b", task="classify")
    assert second.correlation_id == first.correlation_id
    assert second.causation_id == str(first.event_id)
    assert second.org_id == first.org_id


def test_unknown_event_type_is_refused() -> None:
    with pytest.raises(UnknownEvent):
        decode(b'{"event_type": "NoSuchThing"}')


class _Renamed(Event):
    """Version 2 renamed `label` to `title`; v1 payloads still decode through the upcaster."""

    subject: ClassVar[str] = "dataset.renamed.test"
    current_schema: ClassVar[int] = 2
    title: str


@register_upcaster("_Renamed", from_version=1)
def _v1_to_v2(raw: dict[str, Any]) -> dict[str, Any]:
    raw["title"] = raw.pop("label")
    return raw


def test_old_schema_version_is_upcast_on_decode() -> None:
    old = {
        "event_type": "_Renamed",
        "schema_version": 1,
        "correlation_id": "c",
        "org_id": None,
        "actor": "service:test",
        "label": "hello",
    }
    event = decode(old)
    assert isinstance(event, _Renamed)
    assert event.title == "hello"
    assert event.schema_version == 2


@pytest.mark.parametrize(
    ("pattern", "subject", "hit"),
    [
        ("dataset.>", "dataset.created", True),
        ("dataset.>", "dataset", False),
        ("dispatch.*.*", "dispatch.gpu.high", True),
        ("dispatch.*.*", "dispatch.gpu", False),
        ("edge.status.*", "edge.status.dev1", True),
        ("edge.status.*", "edge.deploy.dev1", False),
    ],
)
def test_subject_wildcards_match_like_nats(pattern: str, subject: str, hit: bool) -> None:
    assert subjects.matches(pattern, subject) is hit
