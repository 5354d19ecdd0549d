"""The permission matrix in the scheduler, registry and distribution services, against the real servers: each
service answers only callers holding the permission its subject needs; the registry's finer lifecycle check
(approve, reject and deprecate need model:approve) and its audit record of every refused step; API key scopes.
The calls go straight to the services over NATS, as the gateway's do."""

from __future__ import annotations

import uuid

import pytest
from pydantic import BaseModel

from modelyard.contracts import subjects
from modelyard.contracts.api.devices import Deployment, DeploymentRef, EnrollmentToken, EnrollmentTokenCreate
from modelyard.contracts.api.identity import Principal, Role
from modelyard.contracts.api.models import (
    ModelAction,
    ModelStatus,
    ModelTransition,
    ModelUpdate,
    ModelVersion,
    RegistrySettings,
    Release,
    ReleaseRequest,
    Transition,
)
from modelyard.contracts.api.problems import ProblemDetails
from modelyard.contracts.api.training import Job, JobRef
from modelyard.contracts.permissions import Permission
from modelyard.runtime.rpc import RemoteProblem, RpcClient

from .conftest import Platform
from .registry_support import audit_actions, complete_job, registered
from .rpc_support import services_rpc


async def problem_of(client: RpcClient, subject: str, who: Principal, payload: BaseModel) -> ProblemDetails:
    with pytest.raises(RemoteProblem) as refusal:
        await client.call(subject, who, payload, f"t-{uuid.uuid4().hex[:8]}", ModelVersion)
    return refusal.value.problem_details


async def test_the_registry_gate_follows_the_matrix_and_audits_every_refused_step(platform: Platform) -> None:
    model = await registered(platform, (await complete_job(platform)).job_id)  # submitted by the super admin
    org = model.org_id

    def as_(role: Role, scopes: frozenset[Permission] | None = None) -> Principal:
        return Principal(org_id=org, user_id=uuid.uuid4(), role=role, scopes=scopes)

    engineer, viewer = as_(Role.ML_ENGINEER), as_(Role.VIEWER)
    step = ModelTransition(id=model.id, reason="checked", transition=Transition.APPROVE)
    async with services_rpc(platform) as client:
        # the subject needs model:edit: a viewer is refused before the step is looked at
        refused = await problem_of(client, subjects.SVC_MODEL_TRANSITION, viewer, step)
        assert (refused.status, refused.detail) == (403, "a viewer may not model:edit")
        # an engineer may edit, but approving needs model:approve
        refused = await problem_of(client, subjects.SVC_MODEL_TRANSITION, engineer, step)
        assert (refused.status, refused.detail) == (403, "a ml_engineer may not model:approve")
        refused = await problem_of(
            client, subjects.SVC_MODEL_RELEASE, engineer, ReleaseRequest(id=model.id, reason="x")
        )
        assert (refused.status, refused.detail) == (403, "a ml_engineer may not model:approve")
        refused = await problem_of(
            client, subjects.SVC_REGISTRY_SETTINGS_PUT, engineer, RegistrySettings(four_eyes=False)
        )
        assert refused.status == 403
        # ...and may send a draft to testing and write notes
        testing = ModelTransition(id=model.id, reason="try it", transition=Transition.TEST)
        moved = await client.call(subjects.SVC_MODEL_TRANSITION, engineer, testing, "t-test", ModelVersion)
        assert moved.status is ModelStatus.TESTING
        noted = await client.call(
            subjects.SVC_MODEL_UPDATE, engineer, ModelUpdate(id=model.id, notes="n"), "t-notes", ModelVersion
        )
        assert noted.notes == "n"
        # an admin's key scoped to reading and editing is refused what its role alone would allow
        scoped = as_(Role.ORG_ADMIN, frozenset({Permission.MODEL_READ, Permission.MODEL_EDIT}))
        refused = await problem_of(client, subjects.SVC_MODEL_TRANSITION, scoped, step)
        assert (refused.status, refused.detail) == (403, "this API key's scopes do not include model:approve")
        refused = await problem_of(client, subjects.SVC_MODEL_ROLLBACK, scoped, ModelAction(id=model.id, reason="x"))
        assert refused.status == 403
        # and the second admin the four-eyes rule wants approves and releases
        admin = as_(Role.ORG_ADMIN)
        await client.call(subjects.SVC_MODEL_TRANSITION, admin, step, "t-approve", ModelVersion)
        release = ReleaseRequest(id=model.id, reason="ship")
        assert (await client.call(subjects.SVC_MODEL_RELEASE, admin, release, "t-release", Release)).counter == 1

    records = await audit_actions(platform, at_least=1, action="model.rollback.refused")
    refusals = [(r.action, r.actor, r.detail["status"]) for r in records if r.action.endswith(".refused")]
    assert refusals == [
        ("model.approve.refused", viewer.actor, 403),
        ("model.approve.refused", engineer.actor, 403),
        ("model.release.refused", engineer.actor, 403),
        ("model.approve.refused", scoped.actor, 403),
        ("model.rollback.refused", scoped.actor, 403),
    ]


async def test_training_and_devices_follow_the_matrix(platform: Platform) -> None:
    async with platform.client() as api:
        org = (await api.me()).org_id

    def as_(role: Role) -> Principal:
        return Principal(org_id=org, user_id=uuid.uuid4(), role=role)

    nowhere = JobRef(job_id=uuid.uuid4())
    async with services_rpc(platform) as client:
        for role in (Role.ANNOTATOR, Role.REVIEWER, Role.VIEWER):
            with pytest.raises(RemoteProblem) as refusal:
                await client.call(subjects.SVC_JOB_CANCEL, as_(role), nowhere, "t-cancel", Job)
            assert refusal.value.problem_details.detail == f"a {role.value} may not training:run"
        with pytest.raises(RemoteProblem) as refusal:  # an engineer gets past the matrix, to a job that is not there
            await client.call(subjects.SVC_JOB_DELETE, as_(Role.ML_ENGINEER), nowhere, "t-delete", Job)
        assert refusal.value.problem_details.status == 404

        for role in (Role.ML_ENGINEER, Role.VIEWER):
            with pytest.raises(RemoteProblem) as refusal:
                await client.call(
                    subjects.SVC_ENROLLMENT_TOKEN_CREATE, as_(role), EnrollmentTokenCreate(), "t-token", EnrollmentToken
                )
            assert refusal.value.problem_details.detail == f"a {role.value} may not device:manage"
            with pytest.raises(RemoteProblem) as refusal:
                await client.call(
                    subjects.SVC_DEPLOYMENT_PAUSE, as_(role), DeploymentRef(id=uuid.uuid4()), "t-pause", Deployment
                )
            assert refusal.value.problem_details.status == 403
        token = await client.call(
            subjects.SVC_ENROLLMENT_TOKEN_CREATE,
            as_(Role.ORG_ADMIN),
            EnrollmentTokenCreate(),
            "t-token",
            EnrollmentToken,
        )
        assert token.token.startswith("mye_")
        with pytest.raises(RemoteProblem) as refusal:
            await client.call(
                subjects.SVC_DEPLOYMENT_RESUME,
                as_(Role.ORG_ADMIN),
                DeploymentRef(id=uuid.uuid4()),
                "t-resume",
                Deployment,
            )
        assert refusal.value.problem_details.status == 404
