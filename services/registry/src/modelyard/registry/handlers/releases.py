"""Signed releases: release an approved version, roll back to an earlier one, set a module's default model and
revert to it; read a release with short-lived download URLs; the public keys; the org's registry settings."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

import asyncpg
from faststream.nats import NatsBroker

from modelyard.contracts import subjects
from modelyard.contracts.api.identity import Principal
from modelyard.contracts.api.models import (
    ModelAction,
    ModelRef,
    ModelStatus,
    ModelVersion,
    ModuleInfo,
    ModuleList,
    ModuleRef,
    RegistrySettings,
    Release,
    ReleaseDownload,
    ReleaseRequest,
    SigningKey,
    SigningKeys,
)
from modelyard.contracts.api.paging import NoQuery
from modelyard.contracts.events import DefaultModelSet, ModelReleased
from modelyard.registry import gate, releases
from modelyard.registry.deps import Deps
from modelyard.registry.errors import LifecycleConflict
from modelyard.registry.settings import QUEUE
from modelyard.runtime import outbox
from modelyard.runtime.audit import audit
from modelyard.runtime.rpc import responder

EVER_RELEASED = (ModelStatus.RELEASED, ModelStatus.DEPRECATED)
RERELEASE_STEPS = {"rollback": "roll back to", "revert": "revert to"}
RELEASE_ACTIONS = {"release": "model.released", "rollback": "model.rolled_back", "revert": "model.reverted_to_default"}


async def _publish(
    deps: Deps,
    conn: asyncpg.Connection,
    principal: Principal,
    correlation_id: str,
    model: asyncpg.Record,
    release: Release,
) -> None:
    """The version is released again (whatever it was), and the release goes out with its audit record."""
    previous = ModelStatus(model["status"])
    await deps.models.update(
        conn, model["id"], {"status": ModelStatus.RELEASED.value, "released_at": release.issued_at}
    )
    await deps.models.record(
        conn, model["id"], principal.actor, release.kind, previous, ModelStatus.RELEASED, release.reason
    )
    await outbox.enqueue(
        conn,
        ModelReleased(
            correlation_id=correlation_id,
            org_id=principal.org_id,
            actor=principal.actor,
            release_id=release.id,
            model_id=release.model_id,
            ai_module=release.ai_module,
            version=release.version,
            counter=release.counter,
            kind=release.kind,
            files=release.files,
            signature_key=release.signature_key,
            key_id=release.key_id,
            expires_at=release.expires_at,
            reason=release.reason,
        ),
        audit(
            principal,
            correlation_id,
            service="registry",
            action=RELEASE_ACTIONS[release.kind],
            resource_type="model",
            resource_id=release.model_id,
            version=release.version,
            ai_module=release.ai_module,
            counter=release.counter,
            reason=release.reason,
        ),
    )


async def _rerelease(
    deps: Deps, principal: Principal, correlation_id: str, model_id: UUID, kind: str, reason: str
) -> Release:
    """A new, higher-counter release of an earlier released version's artifacts (rollback, revert)."""
    async with deps.pool.acquire() as conn, conn.transaction():
        model = await deps.models.lock(conn, principal.org_id, model_id)
        if ModelStatus(model["status"]) not in EVER_RELEASED:
            raise LifecycleConflict(
                f"cannot {kind} to version {model['version']}: it is {model['status']} and was never released",
                status=model["status"],
            )
        await deps.modules.lock(conn, principal.org_id, model["ai_module"])
        # a version released now is not one more of the plan's active models; a deprecated one is
        await gate.within_active_limit(deps, conn, principal, model, RERELEASE_STEPS[kind])
        last, platforms, hardware = await deps.releases.latest_of_model(principal.org_id, model_id, conn)
        days = max(1, (last.expires_at - last.issued_at).days)
        release = await releases.build(
            deps, conn, principal, model, kind=kind, reason=reason, expires_in_days=days, platforms=platforms,
            hardware=hardware,
        )  # fmt: skip
        await _publish(deps, conn, principal, correlation_id, model, release)
    return release


def register(broker: NatsBroker, deps: Deps) -> None:
    # the lifecycle subjects need model:approve, checked (and a refusal audited) by gate.audited_responder
    @gate.audited_responder(
        broker, deps, subjects.SVC_MODEL_RELEASE, ReleaseRequest, action=lambda _: "release", target=lambda r: r.id
    )
    async def release(principal: Principal, request: ReleaseRequest, correlation_id: str) -> Release:
        async with (
            gate.audited_refusal(deps, principal, correlation_id, "release", request.id),
            deps.pool.acquire() as conn,
            conn.transaction(),
        ):
            model = await deps.models.lock(conn, principal.org_id, request.id)
            if model["status"] != ModelStatus.APPROVED.value:
                hint = "; use rollback to release an earlier version again" if model["status"] in EVER_RELEASED else ""
                raise LifecycleConflict(
                    f"cannot release version {model['version']}: it is {model['status']}, and only an approved "
                    f"version is released{hint}",
                    status=model["status"],
                )
            await deps.modules.lock(conn, principal.org_id, model["ai_module"])
            await gate.within_active_limit(deps, conn, principal, model, "release")
            made = await releases.build(
                deps, conn, principal, model, kind="release", reason=request.reason,
                expires_in_days=request.expires_in_days, platforms=request.platforms, hardware=request.hardware,
            )  # fmt: skip
            await _publish(deps, conn, principal, correlation_id, model, made)
        return made

    @gate.audited_responder(
        broker, deps, subjects.SVC_MODEL_ROLLBACK, ModelAction, action=lambda _: "rollback", target=lambda a: a.id
    )
    async def rollback(principal: Principal, action: ModelAction, correlation_id: str) -> Release:
        async with gate.audited_refusal(deps, principal, correlation_id, "rollback", action.id):
            return await _rerelease(deps, principal, correlation_id, action.id, "rollback", action.reason)

    @gate.audited_responder(
        broker, deps, subjects.SVC_MODEL_SET_DEFAULT, ModelAction, action=lambda _: "default", target=lambda a: a.id
    )
    async def set_default(principal: Principal, action: ModelAction, correlation_id: str) -> ModelVersion:
        """Marks the default; it releases nothing, so the plan's active models do not count here."""
        async with (
            gate.audited_refusal(deps, principal, correlation_id, "default", action.id),
            deps.pool.acquire() as conn,
            conn.transaction(),
        ):
            model = await deps.models.lock(conn, principal.org_id, action.id)
            if ModelStatus(model["status"]) not in (ModelStatus.APPROVED, *EVER_RELEASED):
                raise LifecycleConflict(
                    f"version {model['version']} is {model['status']}: a default model must have been approved",
                    status=model["status"],
                )
            await deps.modules.lock(conn, principal.org_id, model["ai_module"])
            await deps.modules.set_default(conn, principal.org_id, model["ai_module"], action.id)
            await outbox.enqueue(
                conn,
                DefaultModelSet(
                    correlation_id=correlation_id,
                    org_id=principal.org_id,
                    actor=principal.actor,
                    model_id=action.id,
                    ai_module=model["ai_module"],
                    version=model["version"],
                    reason=action.reason,
                ),
                audit(
                    principal,
                    correlation_id,
                    service="registry",
                    action="model.default_set",
                    resource_type="model",
                    resource_id=action.id,
                    ai_module=model["ai_module"],
                    version=model["version"],
                    reason=action.reason,
                ),
            )
        return await deps.models.get(principal.org_id, action.id)

    @gate.audited_responder(
        broker, deps, subjects.SVC_MODULE_REVERT, ModuleRef, action=lambda _: "revert", target=lambda r: r.ai_module
    )
    async def revert(principal: Principal, ref: ModuleRef, correlation_id: str) -> Release:
        async with gate.audited_refusal(deps, principal, correlation_id, "revert", ref.ai_module):
            default = await deps.pool.fetchval(
                "SELECT default_model_id FROM modules WHERE org_id = $1 AND ai_module = $2",
                principal.org_id,
                ref.ai_module,
            )
            if default is None:
                raise LifecycleConflict(f"module {ref.ai_module!r} has no default model to revert to")
            return await _rerelease(deps, principal, correlation_id, default, "revert", ref.reason)

    @responder(broker, subjects.SVC_MODEL_RELEASE_GET, ModelRef, queue=QUEUE)
    async def release_get(principal: Principal, ref: ModelRef, correlation_id: str) -> ReleaseDownload:
        made, _, _ = await deps.releases.latest_of_model(principal.org_id, ref.id)
        ttl = timedelta(seconds=deps.settings.presign_ttl_s)
        urls = {f.name: await deps.store.presigned_get(f.key, ttl) for f in made.files}
        return ReleaseDownload(
            **made.model_dump(),
            urls=urls,
            signature_url=await deps.store.presigned_get(made.signature_key, ttl),
            url_expires_in_s=deps.settings.presign_ttl_s,
        )

    @responder(broker, subjects.SVC_MODULE_LIST, NoQuery, queue=QUEUE)
    async def modules(principal: Principal, query: NoQuery, correlation_id: str) -> ModuleList:
        async with deps.pool.acquire() as conn:
            rows = await deps.modules.all(conn, principal.org_id)
            infos = [
                ModuleInfo(
                    ai_module=r["ai_module"],
                    default_model_id=r["default_model_id"],
                    default_version=r["default_version"],
                    current_release=await deps.releases.current_of_module(conn, principal.org_id, r["ai_module"]),
                    versions=r["versions"],
                )
                for r in rows
            ]
        return ModuleList(modules=infos)

    @responder(broker, subjects.SVC_REGISTRY_KEYS, NoQuery, queue=QUEUE)
    async def keys(principal: Principal, query: NoQuery, correlation_id: str) -> SigningKeys:
        return SigningKeys(keys=[SigningKey(key_id=deps.signer.key_id, public_key_pem=deps.signer.public_key_pem)])

    @responder(broker, subjects.SVC_REGISTRY_SETTINGS_GET, NoQuery, queue=QUEUE)
    async def settings_get(principal: Principal, query: NoQuery, correlation_id: str) -> RegistrySettings:
        return await deps.org_settings.get(principal.org_id)

    @responder(broker, subjects.SVC_REGISTRY_SETTINGS_PUT, RegistrySettings, queue=QUEUE)  # model:approve
    async def settings_put(principal: Principal, wanted: RegistrySettings, correlation_id: str) -> RegistrySettings:
        async with deps.pool.acquire() as conn, conn.transaction():
            await deps.org_settings.put(conn, principal.org_id, wanted)
            await outbox.enqueue(
                conn,
                audit(
                    principal,
                    correlation_id,
                    service="registry",
                    action="registry.settings_changed",
                    resource_type="org",
                    resource_id=principal.org_id,
                    four_eyes=wanted.four_eyes,
                ),
            )
        return wanted
