"""The audit trail as the gateway serves it (`GET /api/v1/audit`) and the CLI prints it: one entry per
AuditRecorded on the AUDIT stream, plus the gateway's own UserCreated, each with its action in one canonical form,
`<resource>.<verb>` (`dataset.created`, `model.approved`).

Services name actions in two styles today. The registry and distribution already write `model.approved`; the
dataset service and the scheduler write a bare verb or `<resource>_<verb>` (`created`, `upload_created`), because
the action is also the tail of the subject `audit.<service>.<action>` and they kept it short. `canonical_action`
maps both to the one form, so that `dataset.*` means the same across services; the gateway's projection and the
CLI's live tail both go through `AuditEvent.of`, so a pattern matches the same entries in both.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, field_validator

from modelyard.contracts.api.paging import PageQuery
from modelyard.contracts.events import AuditRecorded, UserCreated

WILDCARD = "*"
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
SUMMARY_CHARS = 200


def canonical_action(resource_type: str, action: str) -> str:
    """`<resource>.<verb>`: a dotted action is kept; `created` on a dataset is `dataset.created`;
    `upload_created` on an upload is `upload.created`; `version_published` on a dataset_version is
    `dataset_version.published` (the leading word names the resource, or the resource type's last word)."""
    if "." in action:
        return action
    head, sep, rest = action.partition("_")
    if sep and rest and (head == resource_type or resource_type.endswith("_" + head)):
        return f"{resource_type}.{rest}"
    return f"{resource_type}.{action}"


def action_matches(pattern: str, action: str) -> bool:
    """The API's `action` filter, for the live tail: an exact action, or a prefix ending in `*` (`model.*`)."""
    if pattern.endswith(WILDCARD):
        return action.startswith(pattern[: -len(WILDCARD)])
    return action == pattern


def _short(value: Any) -> str:
    if isinstance(value, list | tuple):
        return ",".join(_short(v) for v in value)
    return str(value)


def summarize(detail: dict[str, Any]) -> str:
    """One line for tables and terminals: the detail's fields as `key=value`, in the order the service gave them,
    cut at SUMMARY_CHARS (the whole detail stays in `detail`)."""
    line = " ".join(f"{key}={_short(value)}" for key, value in detail.items())
    return line if len(line) <= SUMMARY_CHARS else line[: SUMMARY_CHARS - 1] + "…"


class AuditEvent(BaseModel):
    """Who did what to which resource, when, and in which conversation (`correlation_id`)."""

    model_config = ConfigDict(frozen=True)

    event_id: UUID
    org_id: UUID | None
    occurred_at: datetime
    actor: str = Field(description="'user:<id>', 'service:<name>' or 'device:<id>'")
    service: str
    action: str = Field(description="canonical `<resource>.<verb>`, e.g. dataset.created, model.approve.refused")
    resource_type: str
    resource_id: str
    summary: str
    detail: dict[str, Any]
    correlation_id: str

    @classmethod
    def of(cls, event: AuditRecorded | UserCreated) -> AuditEvent:
        """The entry for an event from the AUDIT stream. UserCreated is the gateway's own audit fact (it predates
        AuditRecorded) and becomes `user.created` on the user."""
        if isinstance(event, UserCreated):
            service, resource_type, resource_id = "gateway", "user", str(event.user_id)
            action, detail = "user.created", {"name": event.name, "role": event.role.value}
        else:
            service, resource_type, resource_id = event.service, event.resource_type, event.resource_id
            action, detail = canonical_action(event.resource_type, event.action), dict(event.detail)
        return cls(
            event_id=event.event_id,
            org_id=event.org_id,
            occurred_at=event.occurred_at,
            actor=event.actor,
            service=service,
            action=action,
            resource_type=resource_type,
            resource_id=resource_id,
            summary=summarize(detail),
            detail=detail,
            correlation_id=event.correlation_id,
        )


class AuditQuery(PageQuery):
    """Filters of `GET /api/v1/audit`; every one given must hold. `since` is inclusive, `until` exclusive; a time
    without a zone is UTC."""

    actor: str | None = Field(default=None, min_length=1, max_length=200)
    action: str | None = Field(
        default=None, min_length=1, max_length=200, description="exact, or a prefix ending in * (model.*)"
    )
    resource_type: str | None = Field(default=None, min_length=1, max_length=100)
    resource_id: str | None = Field(default=None, min_length=1, max_length=200)
    since: datetime | None = None
    until: datetime | None = None

    @field_validator("action")
    @classmethod
    def _one_trailing_wildcard(cls, value: str | None) -> str | None:
        if value is not None and WILDCARD in value[:-1]:
            raise ValueError("only a trailing * is supported, e.g. model.*")
        return value

    @field_validator("since", "until", mode="before")
    @classmethod
    def _plus_from_query_string(cls, value: Any) -> Any:
        """An unencoded `+01:00` in a query string arrives as ` 01:00`: give the offset its sign back."""
        if isinstance(value, str) and "T" in value and " " in value:
            return value.replace(" ", "+")
        return value

    @field_validator("since", "until", mode="before")
    @classmethod
    def _a_date_time(cls, value: Any) -> Any:
        """ISO 8601 only, as the API documents (`format: date-time`): pydantic would also read `0.5` or `1700000000`
        as seconds since 1970, which a typo should not silently become."""
        if isinstance(value, int | float) or (isinstance(value, str) and _NUMBER.fullmatch(value.strip())):
            raise ValueError("must be an ISO 8601 date-time, e.g. 2026-01-31T12:00:00Z")
        return value

    @field_validator("since", "until")
    @classmethod
    def _zoned(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class AuditList(BaseModel):
    events: list[AuditEvent]
    total: int
