"""Audit events: who did what, recorded through the outbox in the same transaction as the change."""

from __future__ import annotations

from typing import Any

from modelyard.contracts.api.identity import Principal
from modelyard.contracts.envelope import Event
from modelyard.contracts.events import AuditRecorded


def audit(
    principal: Principal,
    correlation_id: str,
    *,
    service: str,
    action: str,
    resource_type: str,
    resource_id: object,
    **detail: Any,
) -> AuditRecorded:
    return AuditRecorded(
        correlation_id=correlation_id,
        org_id=principal.org_id,
        actor=principal.actor,
        service=service,
        action=action,
        resource_type=resource_type,
        resource_id=str(resource_id),
        detail=detail,
    )


def audit_event(
    cause: Event, *, service: str, action: str, resource_type: str, resource_id: object, **detail: Any
) -> AuditRecorded:
    """The audit record of a change a service made on its own, in reaction to `cause` (same actor and org)."""
    return cause.caused(
        AuditRecorded,
        service=service,
        action=action,
        resource_type=resource_type,
        resource_id=str(resource_id),
        detail=detail,
    )
