"""Who may do what to a model version, and in which status: the approval gate, enforced here whoever calls.
A refused step is a ProblemDetails to the caller and an audit record of the attempt."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from uuid import UUID

from modelyard.contracts.api.identity import Principal, Role
from modelyard.contracts.api.models import ModelStatus, Transition
from modelyard.registry.deps import Deps
from modelyard.registry.errors import LifecycleConflict
from modelyard.runtime import outbox
from modelyard.runtime.audit import audit
from modelyard.runtime.problems import Forbidden, ServiceError

ADMINS = (Role.SUPER_ADMIN, Role.ORG_ADMIN)
ENGINEERS = (*ADMINS, Role.ML_ENGINEER)

# step → (statuses it applies to, status it leads to)
STEPS: dict[Transition, tuple[tuple[ModelStatus, ...], ModelStatus]] = {
    Transition.TEST: ((ModelStatus.DRAFT,), ModelStatus.TESTING),
    Transition.APPROVE: ((ModelStatus.DRAFT, ModelStatus.TESTING), ModelStatus.APPROVED),
    Transition.REJECT: ((ModelStatus.DRAFT, ModelStatus.TESTING, ModelStatus.APPROVED), ModelStatus.REJECTED),
    Transition.DEPRECATE: ((ModelStatus.APPROVED, ModelStatus.RELEASED), ModelStatus.DEPRECATED),
}
WHO: dict[str, tuple[Role, ...]] = {
    Transition.TEST.value: ENGINEERS,
    Transition.APPROVE.value: ADMINS,
    Transition.REJECT.value: ADMINS,
    Transition.DEPRECATE.value: ADMINS,
    "release": ADMINS,
    "rollback": ADMINS,
    "default": ADMINS,
    "revert": ADMINS,
    "notes": ENGINEERS,
    "settings": ADMINS,
}


def allowed(principal: Principal, action: str) -> None:
    if principal.role not in WHO[action]:
        who = " or ".join(r.value for r in WHO[action])
        raise Forbidden(f"only {who} may {action} a model version; you are {principal.role.value}")


def next_status(step: Transition, current: ModelStatus, version: str) -> ModelStatus:
    sources, target = STEPS[step]
    if current not in sources:
        need = " or ".join(s.value for s in sources)
        raise LifecycleConflict(
            f"cannot {step.value} version {version}: it is {current.value}, and {step.value} applies to {need}",
            status=current.value,
        )
    return target


def four_eyes(principal: Principal, submitted_by: str, enabled: bool) -> None:
    if enabled and principal.actor == submitted_by:
        raise Forbidden(
            "four eyes: the person who submitted the training job may not approve its model; ask another admin "
            "(an org_admin can turn this off in the registry settings for single-person teams)"
        )


@asynccontextmanager
async def audited_refusal(
    deps: Deps, principal: Principal, correlation_id: str, action: str, target: UUID | str
) -> AsyncIterator[None]:
    """Run a step; if it is refused, record `<action>.refused` on AUDIT (in its own transaction) and re-raise."""
    try:
        yield
    except ServiceError as refusal:
        async with deps.pool.acquire() as conn, conn.transaction():
            await outbox.enqueue(
                conn,
                audit(
                    principal,
                    correlation_id,
                    service="registry",
                    action=f"model.{action}.refused",
                    resource_type="model" if isinstance(target, UUID) else "module",
                    resource_id=target,
                    status=refusal.status,
                    reason=refusal.detail,
                ),
            )
        raise
