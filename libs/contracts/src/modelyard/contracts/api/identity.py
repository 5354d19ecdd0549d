"""Organisations, users and API keys."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from modelyard.contracts.permissions import Permission, Role, granted
from modelyard.contracts.plans import Plan

__all__ = ["Permission", "Principal", "Role", "User", "UserCreate", "UserWithKey"]


class Principal(BaseModel):
    """Who is calling: passed by the gateway to every service request."""

    model_config = ConfigDict(frozen=True)

    org_id: UUID
    user_id: UUID
    role: Role
    plan: Plan = Plan.FREE
    scopes: frozenset[Permission] | None = Field(
        default=None, description="the API key's scopes; none: everything the role may do"
    )

    @property
    def actor(self) -> str:
        return f"user:{self.user_id}"

    @property
    def permissions(self) -> frozenset[Permission]:
        return granted(self.role, self.scopes)

    def may(self, permission: Permission) -> bool:
        return permission in self.permissions


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
