"""Who may do what with datasets (the fine-grained matrix comes with the access issue)."""

from __future__ import annotations

from enum import StrEnum

from modelyard.contracts.api.identity import Principal, Role
from modelyard.runtime.problems import Forbidden


class Action(StrEnum):
    READ = "read"
    MANAGE = "manage"  # create and change datasets, upload, publish versions
    LABEL = "label"  # add samples' labels and ratings
    REVIEW = "review"  # approve or reject samples


_ALLOWED: dict[Role, frozenset[Action]] = {
    Role.SUPER_ADMIN: frozenset(Action),
    Role.ORG_ADMIN: frozenset(Action),
    Role.ML_ENGINEER: frozenset({Action.READ, Action.MANAGE, Action.LABEL}),
    Role.ANNOTATOR: frozenset({Action.READ, Action.LABEL}),
    Role.REVIEWER: frozenset({Action.READ, Action.REVIEW}),
    Role.VIEWER: frozenset({Action.READ}),
}


def require(principal: Principal, action: Action) -> None:
    if action not in _ALLOWED[principal.role]:
        raise Forbidden(f"a {principal.role.value} may not {action.value} datasets")
