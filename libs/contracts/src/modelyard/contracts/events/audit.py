"""Who did what, on the AUDIT stream: one generic event every service records beside its own facts."""

from __future__ import annotations

from typing import Any, ClassVar

from modelyard.contracts import subjects
from modelyard.contracts.envelope import Event


class AuditRecorded(Event):
    subject: ClassVar[str] = subjects.AUDIT_TEMPLATE  # audit.<service>.<action>
    service: str
    action: str
    resource_type: str
    resource_id: str
    detail: dict[str, Any] = {}
