"""The event envelope. Every event is a frozen, past-tense pydantic model carrying the envelope fields flat beside
its own; `event_type` names the class so a consumer can decode without knowing the subject.

A field's meaning never changes in place: bump `current_schema` on the class and register an upcaster that turns
the old payload into the new one (`register_upcaster`). `decode` applies the chain before validation.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, ClassVar, TypeVar
from uuid import UUID, uuid4

from pydantic import BaseModel, ConfigDict, Field

JsonObject = dict[str, Any]
Upcaster = Callable[[JsonObject], JsonObject]

MSG_ID_HEADER = "Nats-Msg-Id"
EVENT_TYPE_HEADER = "Modelyard-Event-Type"
CORRELATION_HEADER = "Modelyard-Correlation-Id"

_REGISTRY: dict[str, type[Event]] = {}
E = TypeVar("E", bound="Event")
_UPCASTERS: dict[tuple[str, int], Upcaster] = {}


def _now() -> datetime:
    return datetime.now(UTC)


class Event(BaseModel):
    """Base of every event. Subclasses set `subject` (a template formatted with the event's own fields)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    subject: ClassVar[str]
    current_schema: ClassVar[int] = 1

    event_type: str = ""
    schema_version: int = 0
    event_id: UUID = Field(default_factory=uuid4)
    occurred_at: datetime = Field(default_factory=_now)
    correlation_id: str
    causation_id: str | None = None
    org_id: UUID | None = Field(description="owning organisation; None only for platform-level events")
    actor: str = Field(description="who caused it: 'user:<id>', 'service:<name>' or 'device:<id>'")

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "subject" in cls.__dict__:  # a concrete event, not an intermediate base
            if cls.__name__ in _REGISTRY:
                raise TypeError(f"event type {cls.__name__} defined twice")
            _REGISTRY[cls.__name__] = cls

    def model_post_init(self, context: Any, /) -> None:
        # Stamp type and version so the serialized form is self-describing; frozen, so go through __dict__.
        self.__dict__["event_type"] = type(self).__name__
        self.__dict__["schema_version"] = type(self).current_schema

    @property
    def nats_subject(self) -> str:
        return self.subject.format(**self.__dict__)

    def headers(self) -> dict[str, str]:
        return {
            MSG_ID_HEADER: str(self.event_id),
            EVENT_TYPE_HEADER: self.event_type,
            CORRELATION_HEADER: self.correlation_id,
        }

    def encode(self) -> bytes:
        return self.model_dump_json().encode()

    def caused(self, event_type: type[E], /, **fields: Any) -> E:
        """A follow-up event in the same conversation: same correlation and org, causation = this event."""
        fields.setdefault("org_id", self.org_id)
        fields.setdefault("actor", self.actor)
        return event_type(correlation_id=self.correlation_id, causation_id=str(self.event_id), **fields)


def register_upcaster(event_type: str, from_version: int) -> Callable[[Upcaster], Upcaster]:
    def wrap(fn: Upcaster) -> Upcaster:
        _UPCASTERS[(event_type, from_version)] = fn
        return fn

    return wrap


class UnknownEvent(ValueError):
    """The payload names an event type this code does not know."""


def event_types() -> dict[str, type[Event]]:
    return dict(_REGISTRY)


def decode(data: bytes | str | JsonObject) -> Event:
    """Bytes from the wire to the typed, current-version event."""
    import json

    raw: JsonObject = dict(data) if isinstance(data, dict) else json.loads(data)
    name = raw.get("event_type")
    cls = _REGISTRY.get(name) if isinstance(name, str) else None
    if cls is None:
        raise UnknownEvent(f"unknown event_type {name!r}")
    version = int(raw.get("schema_version", 1))
    while version < cls.current_schema:
        raw = _UPCASTERS[(cls.__name__, version)](raw)
        version += 1
        raw["schema_version"] = version
    return cls.model_validate(raw)
