"""Plan limits the services enforce, against the real servers: custom training (scheduler) and active models per
module (registry). The services trust the plan on the principal: the tests call them over NATS with a principal
on the plan they need, or change a plan's limits in `modelyard.contracts.plans.LIMITS` (the services run in this
process), so they do not depend on the numbers the table ships with."""

from __future__ import annotations

import dataclasses
import uuid
from pathlib import Path

import pytest

from modelyard.client.api import ApiError, ModelyardClient
from modelyard.contracts import plans, subjects
from modelyard.contracts.api.identity import Principal, Role
from modelyard.contracts.api.models import ModelStatus, ModelVersion, Transition
from modelyard.contracts.api.problems import ProblemDetails
from modelyard.contracts.api.training import Job, JobCreate, JobList, JobQuery
from modelyard.contracts.plans import Plan
from modelyard.runtime.rpc import RemoteProblem

from .conftest import Platform
from .registry_support import audit_actions, complete_job, registered
from .rpc_support import services_rpc
from .training_support import published_version, submit


def set_limits(monkeypatch: pytest.MonkeyPatch, plan: Plan, **changes: object) -> None:
    monkeypatch.setitem(plans.LIMITS, plan, dataclasses.replace(plans.LIMITS[plan], **changes))  # type: ignore[arg-type]


async def refused(api: ModelyardClient, call: str, *args: object) -> ProblemDetails:
    with pytest.raises(ApiError) as refusal:
        await getattr(api, call)(*args)
    return refusal.value.problem


async def approved_versions(platform: Platform, api: ModelyardClient, ai_module: str, count: int) -> list[ModelVersion]:
    """`count` approved versions of the module (1.0.0, 1.1.0, ...), registered from completed jobs one at a time."""
    made = []
    for _ in range(count):
        model = await registered(platform, (await complete_job(platform, ai_module=ai_module)).job_id)
        made.append(await api.transition_model(model.id, Transition.APPROVE, "good enough"))
    return made


# --- custom training -------------------------------------------------------------------------------------------


async def test_a_plan_without_custom_training_is_refused_before_its_quotas(platform: Platform, tmp_path: Path) -> None:
    dataset_id, version = await published_version(platform, tmp_path)
    async with platform.client() as api:
        me = await api.me()
    spec = JobCreate(name="cars", dataset_id=dataset_id, dataset_version=version, overrides={"epochs": 1})
    async with services_rpc(platform) as client:
        for role in (Role.SUPER_ADMIN, Role.ML_ENGINEER):
            pro = Principal(org_id=me.org_id, user_id=me.id, role=role, plan=Plan.PRO)
            with pytest.raises(RemoteProblem) as refusal:
                await client.call(subjects.SVC_JOB_CREATE, pro, spec, f"pro-{role.value}", Job)
            problem = refusal.value.problem_details
            # pro's quotas are 0 jobs too: the plan's refusal comes first, a 403 and not a 429
            assert (problem.status, problem.detail) == (403, "the pro plan does not include custom training")
            assert problem.type.endswith("/custom-training-not-included")
        # a viewer is refused by the permission matrix first, whatever the plan
        viewer = Principal(org_id=me.org_id, user_id=uuid.uuid4(), role=Role.VIEWER, plan=Plan.PRO)
        with pytest.raises(RemoteProblem) as refusal:
            await client.call(subjects.SVC_JOB_CREATE, viewer, spec, "pro-viewer", Job)
        assert refusal.value.problem_details.detail == "a viewer may not training:run"
        nothing = await client.call(subjects.SVC_JOB_LIST, pro, JobQuery(), "pro-list", JobList)
    assert nothing.total == 0
    job = await submit(platform, dataset_id, version)  # the same org on its own (free) plan trains
    assert job["status"] in ("pending", "queued")


async def test_the_gateway_passes_the_plan_and_its_refusal_through(
    platform: Platform, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dataset_id, version = await published_version(platform, tmp_path)
    set_limits(monkeypatch, Plan.FREE, custom_training=False)
    body = {"name": "cars", "dataset_id": str(dataset_id), "dataset_version": version}
    async with platform.http.post(f"{platform.url}/api/v1/training/jobs", json=body, headers=platform.auth()) as r:
        assert r.status == 403 and r.content_type == "application/problem+json"
        assert (await r.json())["detail"] == "the free plan does not include custom training"


async def test_jobs_a_month_count_submissions_so_deleting_jobs_gives_nothing_back(
    platform: Platform, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dataset_id, version = await published_version(platform, tmp_path)
    set_limits(monkeypatch, Plan.FREE, jobs_per_month=2)
    jobs = f"{platform.url}/api/v1/training/jobs"
    for _ in range(2):
        job = await submit(platform, dataset_id, version)
        async with platform.http.post(f"{jobs}/{job['id']}/cancel", headers=platform.auth()) as r:
            assert r.status == 200, await r.text()
        async with platform.http.delete(f"{jobs}/{job['id']}", headers=platform.auth()) as r:
            assert r.status == 200, await r.text()
    body = {"name": "third", "dataset_id": str(dataset_id), "dataset_version": version}
    async with platform.http.post(jobs, json=body, headers=platform.auth()) as r:
        problem = await r.json()
        assert r.status == 429 and problem["detail"] == "the free plan allows 2 jobs a month", problem
    async with platform.http.get(jobs, headers=platform.auth()) as r:
        assert (await r.json())["total"] == 0  # both deleted, still counted


# --- active models per module ----------------------------------------------------------------------------------


async def test_the_active_models_limit_refuses_one_more_release_until_one_is_deprecated(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_limits(monkeypatch, Plan.FREE, active_models_per_module=2)
    async with platform.client() as api:
        await api.put_registry_settings(four_eyes=False)
        v1, v2, v3 = await approved_versions(platform, api, "doors", 3)
        await api.release_model(v1.id, "first")
        await api.release_model(v2.id, "second")

        problem = await refused(api, "release_model", v3.id, "one too many")
        assert problem.status == 409 and problem.type.endswith("/active-models-limit")
        assert problem.detail == (
            "cannot release version 1.2.0: the free plan keeps 2 released version(s) of module 'doors' active, "
            "and 2 are released (1.0.0, 1.1.0); deprecate one first"
        )
        assert (await api.get_model(v3.id)).status is ModelStatus.APPROVED  # nothing changed
        (other,) = await approved_versions(platform, api, "gates", 1)
        await api.release_model(other.id, "another module has its own places")

        # a rollback to a version that is released already is not one more; making a default releases nothing
        rollback = await api.rollback_model(v1.id, "again")
        assert (rollback.kind, rollback.counter) == ("rollback", 3)
        await api.set_default_model(v3.id, "the approved one is the fallback")

        await api.transition_model(v1.id, Transition.DEPRECATE, "make room")
        released = await api.release_model(v3.id, "now it fits")
        assert (released.version, released.counter) == ("1.2.0", 4)

        # a deprecated version released again is one more: rollback and revert count it
        problem = await refused(api, "rollback_model", v1.id, "back to the first")
        assert problem.status == 409 and problem.detail is not None
        assert problem.detail.startswith("cannot roll back to version 1.0.0: the free plan keeps 2 released")
        assert "(1.1.0, 1.2.0); deprecate one first" in problem.detail
        await api.set_default_model(v1.id, "the first is the fallback")
        problem = await refused(api, "revert_module", "doors", "site reset")
        assert problem.status == 409 and (problem.detail or "").startswith("cannot revert to version 1.0.0")
        await api.transition_model(v2.id, Transition.DEPRECATE, "make room")
        reverted = await api.revert_module("doors", "site reset")
        assert (reverted.kind, reverted.model_id, reverted.counter) == ("revert", v1.id, 5)
        page = await api.list_models(ai_module="doors", status=ModelStatus.RELEASED)
    assert {m.version for m in page.models} == {"1.0.0", "1.2.0"}

    records = await audit_actions(platform, at_least=1, action="model.revert.refused")
    refusals = [(r.action, r.detail["status"]) for r in records if r.service == "registry" and ".refused" in r.action]
    assert refusals == [("model.release.refused", 409), ("model.rollback.refused", 409), ("model.revert.refused", 409)]


async def test_no_limit_releases_them_all_and_a_lower_one_still_rolls_back_to_a_released_version(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_limits(monkeypatch, Plan.FREE, active_models_per_module=None)
    async with platform.client() as api:
        await api.put_registry_settings(four_eyes=False)
        versions = await approved_versions(platform, api, "doors", 4)
        for model in versions[:3]:
            await api.release_model(model.id, "unlimited")
        set_limits(monkeypatch, Plan.FREE, active_models_per_module=1)  # the org moved to a smaller plan
        rollback = await api.rollback_model(versions[0].id, "a released version is released already")
        assert rollback.counter == 4
        problem = await refused(api, "release_model", versions[3].id, "one more")
    assert problem.status == 409
    assert "keeps 1 released version(s)" in (problem.detail or "") and "3 are released" in (problem.detail or "")
