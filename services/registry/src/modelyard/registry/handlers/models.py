"""Model versions: list, read, notes, lineage, compare, and the lifecycle steps (test, approve, reject, deprecate)."""

from __future__ import annotations

from datetime import UTC, datetime

from faststream.nats import NatsBroker

from modelyard.contracts import subjects
from modelyard.contracts.api.identity import Principal
from modelyard.contracts.api.models import (
    CompareQuery,
    Comparison,
    Lineage,
    MetricDelta,
    ModelList,
    ModelQuery,
    ModelRef,
    ModelStatus,
    ModelTransition,
    ModelUpdate,
    ModelVersion,
    Transition,
)
from modelyard.contracts.events import ModelStatusChanged
from modelyard.registry import gate
from modelyard.registry.deps import Deps
from modelyard.registry.settings import QUEUE
from modelyard.runtime import outbox
from modelyard.runtime.audit import audit
from modelyard.runtime.rpc import responder


def compare(a: ModelVersion, b: ModelVersion) -> Comparison:
    names = sorted(set(a.metrics) | set(b.metrics))
    deltas = [
        MetricDelta(
            metric=n,
            a=a.metrics.get(n),
            b=b.metrics.get(n),
            delta=None if n not in a.metrics or n not in b.metrics else round(b.metrics[n] - a.metrics[n], 6),
        )
        for n in names
    ]
    return Comparison(a=a, b=b, metrics=deltas)


def register(broker: NatsBroker, deps: Deps) -> None:
    models = deps.models

    @responder(broker, subjects.SVC_MODEL_LIST, ModelQuery, queue=QUEUE)
    async def list_models(principal: Principal, query: ModelQuery, correlation_id: str) -> ModelList:
        page, total = await models.page(principal.org_id, query)
        return ModelList(models=page, total=total)

    @responder(broker, subjects.SVC_MODEL_GET, ModelRef, queue=QUEUE)
    async def get_model(principal: Principal, ref: ModelRef, correlation_id: str) -> ModelVersion:
        return await models.get(principal.org_id, ref.id)

    @responder(broker, subjects.SVC_MODEL_LINEAGE, ModelRef, queue=QUEUE)
    async def lineage(principal: Principal, ref: ModelRef, correlation_id: str) -> Lineage:
        return await models.lineage(principal.org_id, ref.id)

    @responder(broker, subjects.SVC_MODEL_COMPARE, CompareQuery, queue=QUEUE)
    async def compare_models(principal: Principal, query: CompareQuery, correlation_id: str) -> Comparison:
        return compare(await models.get(principal.org_id, query.a), await models.get(principal.org_id, query.b))

    @responder(broker, subjects.SVC_MODEL_UPDATE, ModelUpdate, queue=QUEUE)  # model:edit
    async def update(principal: Principal, change: ModelUpdate, correlation_id: str) -> ModelVersion:
        async with deps.pool.acquire() as conn, conn.transaction():
            await models.lock(conn, principal.org_id, change.id)
            await models.update(conn, change.id, {"notes": change.notes})
            await outbox.enqueue(
                conn,
                audit(
                    principal,
                    correlation_id,
                    service="registry",
                    action="model.notes_updated",
                    resource_type="model",
                    resource_id=change.id,
                ),
            )
        return await models.get(principal.org_id, change.id)

    @gate.audited_responder(
        broker,
        deps,
        subjects.SVC_MODEL_TRANSITION,
        ModelTransition,
        action=lambda step: step.transition.value,
        target=lambda step: step.id,
    )
    async def transition(principal: Principal, step: ModelTransition, correlation_id: str) -> ModelVersion:
        async with gate.audited_refusal(deps, principal, correlation_id, step.transition.value, step.id):
            gate.allowed(principal, step.transition)  # approve, reject and deprecate need model:approve
            async with deps.pool.acquire() as conn, conn.transaction():
                row = await models.lock(conn, principal.org_id, step.id)
                current = ModelStatus(row["status"])
                target = gate.next_status(step.transition, current, row["version"])
                changes: dict[str, object] = {"status": target.value}
                if step.transition is Transition.APPROVE:
                    settings = await deps.org_settings.get(principal.org_id, conn)
                    gate.four_eyes(principal, row["submitted_by"], settings.four_eyes)
                    changes |= {"approved_by": principal.actor, "approved_at": datetime.now(UTC)}
                await models.update(conn, step.id, changes)
                await models.record(conn, step.id, principal.actor, step.transition.value, current, target, step.reason)
                await outbox.enqueue(
                    conn,
                    ModelStatusChanged(
                        correlation_id=correlation_id,
                        org_id=principal.org_id,
                        actor=principal.actor,
                        model_id=step.id,
                        ai_module=row["ai_module"],
                        version=row["version"],
                        status=target,
                        previous=current,
                        reason=step.reason,
                    ),
                    audit(
                        principal,
                        correlation_id,
                        service="registry",
                        action=f"model.{target.value}",
                        resource_type="model",
                        resource_id=step.id,
                        version=row["version"],
                        ai_module=row["ai_module"],
                        previous=current.value,
                        reason=step.reason,
                    ),
                )
        return await models.get(principal.org_id, step.id)
