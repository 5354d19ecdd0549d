"""Organisations, users and API keys."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from modelyard.contracts.permissions import Permission, Role, granted
from modelyard.contracts.plans import Plan

__all__ = [
    "AccessToken",
    "ApiKey",
    "ApiKeyCreate",
    "ApiKeyList",
    "ApiKeyRef",
    "ApiKeyWithSecret",
    "Org",
    "OrgCreate",
    "OrgList",
    "OrgWithAdmin",
    "Permission",
    "Principal",
    "Role",
    "TokenRequest",
    "User",
    "UserCreate",
    "UserWithKey",
]


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


class ApiKeyCreate(BaseModel):
    """A new key for the caller. `scopes` narrows it to some of the caller's permissions (none: all of them)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=200)
    scopes: list[Permission] | None = Field(default=None, min_length=1, max_length=len(Permission))
    expires_in_days: int | None = Field(default=None, ge=1, le=3650, description="none: the key does not expire")


class ApiKey(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: UUID
    user_id: UUID
    name: str
    prefix: str = Field(description="the key's public part: `myk_<prefix>_...`")
    scopes: list[Permission] | None
    created_at: datetime
    last_used_at: datetime | None = Field(description="to within a minute")
    expires_at: datetime | None
    revoked_at: datetime | None


class ApiKeyWithSecret(ApiKey):
    api_key: str = Field(description="shown once; only its hash is stored")


class ApiKeyList(BaseModel):
    keys: list[ApiKey]


class ApiKeyRef(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: UUID


class TokenRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    expires_in: int = Field(default=900, ge=60, le=3600, description="seconds; never past the key's own expiry")


class AccessToken(BaseModel):
    access_token: str
    token_type: str = "Bearer"  # noqa: S105 - the OAuth token type, not a secret
    expires_in: int = Field(description="seconds from now")
    expires_at: datetime
    scopes: list[Permission] = Field(description="what the token may do")


class OrgCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=200)
    plan: Plan = Plan.FREE
    admin_name: str = Field(default="admin", min_length=1, max_length=200)


class Org(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: UUID
    name: str
    plan: Plan
    created_at: datetime


class OrgWithAdmin(Org):
    admin_user_id: UUID
    admin_api_key: str = Field(description="the new org_admin's key: shown once; only its hash is stored")


class OrgList(BaseModel):
    orgs: list[Org]
