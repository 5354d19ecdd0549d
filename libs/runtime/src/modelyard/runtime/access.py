"""The permission check every service runs (the matrix itself is `modelyard.contracts.permissions`)."""

from __future__ import annotations

from modelyard.contracts.api.identity import Principal
from modelyard.contracts.permissions import ROLES, Permission
from modelyard.runtime.problems import Forbidden


def require(principal: Principal, permission: Permission) -> None:
    """403 unless the caller's role grants `permission` and its key's scopes (if any) include it."""
    if principal.may(permission):
        return
    if permission in ROLES[principal.role]:
        raise Forbidden(f"this API key's scopes do not include {permission.value}")
    raise Forbidden(f"a {principal.role.value} may not {permission.value}")
