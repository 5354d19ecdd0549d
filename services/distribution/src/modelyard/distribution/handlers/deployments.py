"""Deployments: a released version to one device, a label selector or every device of the org, in waves (a canary
first); read, list, pause and resume. Only a version the registry has released can be deployed."""

from __future__ import annotations

import uuid

from faststream.nats import NatsBroker

from modelyard.contracts import subjects
from modelyard.contracts.api.devices import (
    Deployment,
    DeploymentCreate,
    DeploymentList,
    DeploymentQuery,
    DeploymentRef,
    DeploymentStatus,
    DeviceDeployStatus,
)
from modelyard.contracts.api.identity import Principal
from modelyard.contracts.api.models import ModelRef, ModelStatus, ModelVersion, ReleaseDownload
from modelyard.contracts.api.problems import FieldError
from modelyard.distribution import rollout, sending
from modelyard.distribution.deps import Deps
from modelyard.distribution.errors import DeploymentFinished, NoTargets, NotDeployable
from modelyard.distribution.progress import advance
from modelyard.distribution.settings import QUEUE
from modelyard.runtime import outbox
from modelyard.runtime.audit import audit
from modelyard.runtime.rpc import responder


def register(broker: NatsBroker, deps: Deps) -> None:
    # creating, pausing and resuming need device:manage, checked by the responder from the permission matrix
    @responder(broker, subjects.SVC_DEPLOYMENT_CREATE, DeploymentCreate, queue=QUEUE)
    async def create(principal: Principal, spec: DeploymentCreate, correlation_id: str) -> Deployment:
        ref = ModelRef(id=spec.model_id)
        model = await deps.rpc.call(subjects.SVC_MODEL_GET, principal, ref, correlation_id, ModelVersion)
        if model.status is not ModelStatus.RELEASED:
            raise NotDeployable(
                f"model version {model.version} is {model.status.value}: only a released version is deployed "
                "(approve and release it in the registry first)",
                status=model.status.value,
            )
        release = await deps.rpc.call(subjects.SVC_MODEL_RELEASE_GET, principal, ref, correlation_id, ReleaseDownload)
        deployment_id = uuid.uuid4()
        async with deps.pool.acquire() as conn, conn.transaction():
            t = spec.target
            devices = await deps.devices.targets(conn, principal.org_id, device=t.device, labels=t.labels)
            if not devices:
                raise NoTargets(
                    "no enrolled device matches the target",
                    errors=[FieldError(field="target", message="matches no device of this organisation")],
                )
            waves = rollout.plan_waves(
                devices, canary=spec.canary, canary_percent=spec.canary_percent, wave_size=spec.wave_size
            )
            await conn.execute(
                """INSERT INTO deployments (id, org_id, model_id, ai_module, version, counter, release_files,
                       signature_key, status, waves, failure_threshold, created_by)
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)""",
                deployment_id,
                principal.org_id,
                model.id,
                model.ai_module,
                model.version,
                release.counter,
                [f.model_dump() for f in release.files],
                release.signature_key,
                DeploymentStatus.ROLLING.value,
                len(waves),
                spec.failure_threshold,
                principal.actor,
            )
            await conn.executemany(
                "INSERT INTO deployment_devices (deployment_id, device_id, wave, status) VALUES ($1, $2, $3, $4)",
                [
                    (deployment_id, d["id"], wave, DeviceDeployStatus.WAITING.value)
                    for wave, members in enumerate(waves)
                    for d in members
                ],
            )
            row = await deps.deployments.lock(conn, deployment_id)
            assert row is not None
            await sending.send_wave(deps, conn, row, 0, correlation_id)
            await outbox.enqueue(
                conn,
                audit(
                    principal,
                    correlation_id,
                    service="distribution",
                    action="deployment.created",
                    resource_type="deployment",
                    resource_id=deployment_id,
                    model_id=str(model.id),
                    version=model.version,
                    counter=release.counter,
                    devices=len(devices),
                    waves=len(waves),
                ),
            )
        return await deps.deployments.get(principal.org_id, deployment_id)

    @responder(broker, subjects.SVC_DEPLOYMENT_GET, DeploymentRef, queue=QUEUE)
    async def get(principal: Principal, ref: DeploymentRef, correlation_id: str) -> Deployment:
        return await deps.deployments.get(principal.org_id, ref.id)

    @responder(broker, subjects.SVC_DEPLOYMENT_LIST, DeploymentQuery, queue=QUEUE)
    async def list_deployments(principal: Principal, query: DeploymentQuery, correlation_id: str) -> DeploymentList:
        page, total = await deps.deployments.page(principal.org_id, query)
        return DeploymentList(deployments=page, total=total)

    async def _set_paused(principal: Principal, ref: DeploymentRef, cid: str, paused: bool) -> Deployment:
        current = await deps.deployments.get(principal.org_id, ref.id)
        wanted = DeploymentStatus.PAUSED if paused else DeploymentStatus.ROLLING
        async with deps.pool.acquire() as conn, conn.transaction():
            row = await deps.deployments.lock(conn, ref.id)
            assert row is not None
            if row["status"] not in (DeploymentStatus.ROLLING.value, DeploymentStatus.PAUSED.value):
                raise DeploymentFinished(f"deployment {ref.id} is {row['status']}", status=row["status"])
            await deps.deployments.update(conn, ref.id, {"status": wanted.value})
            await outbox.enqueue(
                conn,
                audit(
                    principal,
                    cid,
                    service="distribution",
                    action="deployment.paused" if paused else "deployment.resumed",
                    resource_type="deployment",
                    resource_id=ref.id,
                    version=current.version,
                ),
            )
            if not paused:
                await advance(deps, conn, ref.id, cid)  # a wave that finished while paused goes on now
        return await deps.deployments.get(principal.org_id, ref.id)

    @responder(broker, subjects.SVC_DEPLOYMENT_PAUSE, DeploymentRef, queue=QUEUE)
    async def pause(principal: Principal, ref: DeploymentRef, correlation_id: str) -> Deployment:
        return await _set_paused(principal, ref, correlation_id, True)

    @responder(broker, subjects.SVC_DEPLOYMENT_RESUME, DeploymentRef, queue=QUEUE)
    async def resume(principal: Principal, ref: DeploymentRef, correlation_id: str) -> Deployment:
        return await _set_paused(principal, ref, correlation_id, False)
