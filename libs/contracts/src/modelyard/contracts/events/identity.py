"""Identity facts from the gateway, on the AUDIT stream."""

from __future__ import annotations

from typing import ClassVar
from uuid import UUID

from modelyard.contracts import subjects
from modelyard.contracts.api.identity import Role
from modelyard.contracts.envelope import Event


class UserCreated(Event):
    subject: ClassVar[str] = subjects.AUDIT_USER_CREATED
    user_id: UUID
    name: str
    role: Role
