"""Who may do what to a model version, and in which status: the approval gate, enforced here whoever calls.
A refused step is a ProblemDetails to the caller and an audit record of the attempt.

What each role may do is the platform's one permission matrix (`modelyard.contracts.permissions`): a lifecycle
subject needs its permission there (`svc.registry.model.transition` needs `model:edit`), and a step that needs
more than its subject (approve, reject and deprecate need `model:approve`) is checked here as well. Unlike the
plain `responder`, the registry's lifecycle subjects check the matrix inside `audited_refusal`, so a caller
without the permission leaves `model.<step>.refused` on AUDIT like any other refused step.

The plan's `active_models_per_module` caps how many versions of one module are released at once."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar
from uuid import UUID

import asyncpg
from faststream.nats import NatsBroker
from pydantic import BaseModel

from modelyard.contracts import permissions, plans
from modelyard.contracts.api.identity import Principal
from modelyard.contracts.api.models import ModelStatus, Transition
from modelyard.contracts.permissions import Permission
from modelyard.registry import versions
from modelyard.registry.deps import Deps
from modelyard.registry.errors import ActiveModelsLimit, LifecycleConflict
from modelyard.registry.settings import QUEUE
from modelyard.runtime import outbox
from modelyard.runtime.access import require
from modelyard.runtime.audit import audit
from modelyard.runtime.problems import Forbidden, ServiceError
from modelyard.runtime.rpc import Handler, answer

P = TypeVar("P", bound=BaseModel)

# step → (statuses it applies to, status it leads to)
STEPS: dict[Transition, tuple[tuple[ModelStatus, ...], ModelStatus]] = {
    Transition.TEST: ((ModelStatus.DRAFT,), ModelStatus.TESTING),
    Transition.APPROVE: ((ModelStatus.DRAFT, ModelStatus.TESTING), ModelStatus.APPROVED),
    Transition.REJECT: ((ModelStatus.DRAFT, ModelStatus.TESTING, ModelStatus.APPROVED), ModelStatus.REJECTED),
    Transition.DEPRECATE: ((ModelStatus.APPROVED, ModelStatus.RELEASED), ModelStatus.DEPRECATED),
}
# step → the permission it needs (the transition subject itself needs only model:edit)
NEEDS: dict[Transition, Permission] = {
    Transition.TEST: Permission.MODEL_EDIT,
    Transition.APPROVE: Permission.MODEL_APPROVE,
    Transition.REJECT: Permission.MODEL_APPROVE,
    Transition.DEPRECATE: Permission.MODEL_APPROVE,
}


def allowed(principal: Principal, step: Transition) -> None:
    """403 unless the caller may take this lifecycle step."""
    require(principal, NEEDS[step])


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


async def within_active_limit(
    deps: Deps, conn: asyncpg.Connection, principal: Principal, model: asyncpg.Record, step: str
) -> None:
    """409 when releasing `model` would put more versions of its module in `released` at once than the caller's
    plan keeps active. A version that is released already is not one more (a rollback or revert to it never trips
    the limit); one that is approved or deprecated is. The caller holds the module's row lock, so two releases of
    one module cannot both take its last place."""
    limit = plans.limits(principal.plan).active_models_per_module
    if limit is None or model["status"] == ModelStatus.RELEASED.value:
        return
    released = await deps.models.released_versions(conn, principal.org_id, model["ai_module"])
    if len(released) < limit:
        return
    listed = ", ".join(sorted(released, key=versions.parse))
    raise ActiveModelsLimit(
        f"cannot {step} version {model['version']}: the {principal.plan.value} plan keeps {limit} released "
        f"version(s) of module {model['ai_module']!r} active, and {len(released)} are released ({listed}); "
        "deprecate one first",
        ai_module=model["ai_module"],
        limit=limit,
        released=listed,
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


def audited_responder(
    broker: NatsBroker,
    deps: Deps,
    subject: str,
    payload_model: type[P],
    *,
    action: Callable[[P], str],
    target: Callable[[P], UUID | str],
) -> Callable[[Handler[P]], Handler[P]]:
    """`modelyard.runtime.rpc.responder` for a lifecycle subject: the same matrix entry, the same 403, but checked
    after the payload is read and inside `audited_refusal`, so the refusal names the step and its target on AUDIT.
    `action` and `target` pick them from the payload."""
    needs = permissions.SUBJECTS[subject]

    def register(fn: Handler[P]) -> Handler[P]:
        async def checked(principal: Principal, payload: P, correlation_id: str) -> BaseModel:
            if needs is not None:
                async with audited_refusal(deps, principal, correlation_id, action(payload), target(payload)):
                    require(principal, needs)
            return await fn(principal, payload, correlation_id)

        @broker.subscriber(subject, queue=QUEUE, title=subject)
        async def handle(body: dict[str, Any]) -> dict[str, Any]:
            reply = await answer(checked, payload_model, body)
            if reply.problem is not None and reply.problem.status == 422 and needs is not None:
                # no step to name, so nothing to audit; but a caller without the permission hears 403, as from
                # every other service, not what is wrong with a payload it may not send (the handler is not run:
                # the payload is still invalid)
                reply = await answer(checked, payload_model, body, needs=needs)
            return reply.model_dump(mode="json")

        return fn

    return register
