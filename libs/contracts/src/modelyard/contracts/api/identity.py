"""Organisations, users and API keys."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from modelyard.contracts.plans import Plan


class Role(StrEnum):
    SUPER_ADMIN = "super_admin"
    ORG_ADMIN = "org_admin"
    ML_ENGINEER = "ml_engineer"
    ANNOTATOR = "annotator"
    REVIEWER = "reviewer"
    VIEWER = "viewer"

    @property
    def is_admin(self) -> bool:
        return self in (Role.SUPER_ADMIN, Role.ORG_ADMIN)

    def may_grant(self, other: Role) -> bool:
        """Admins create users; only a super admin creates another super admin."""
        return self is Role.SUPER_ADMIN or (self is Role.ORG_ADMIN and other is not Role.SUPER_ADMIN)


class Principal(BaseModel):
    """Who is calling: passed by the gateway to every service request."""

    model_config = ConfigDict(frozen=True)

    org_id: UUID
    user_id: UUID
    role: Role
    plan: Plan = Plan.FREE

    @property
    def actor(self) -> str:
        return f"user:{self.user_id}"


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=200)
    role: Role


class User(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: UUID
    org_id: UUID
    name: str
    role: Role
    created_at: datetime


class UserWithKey(User):
    api_key: str = Field(description="shown once; only its hash is stored")
