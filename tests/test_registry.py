"""The registry against the real servers: a completed job becomes a draft version with lineage; the approval gate
(roles, four eyes, no release without approval), each refusal a ProblemDetails and an audit record; signed releases
that the stock `model_signing` command verifies; counters under concurrency; rollback, default model, revert."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from modelyard.client.api import ApiError
from modelyard.contracts import plans
from modelyard.contracts.api.identity import Role
from modelyard.contracts.api.models import ModelStatus, Transition
from modelyard.contracts.plans import Plan

from .conftest import Platform
from .registry_support import audit_actions, complete_job, registered
from .training_support import published_version, submit, wait_job

PROBLEM = "application/problem+json"
MODEL_SIGNING = str(Path(sys.executable).parent / "model_signing")


def verify_cli(directory: Path, public_key: Path, signature: Path) -> subprocess.CompletedProcess[str]:
    argv = [MODEL_SIGNING, "verify", "key", str(directory), "--public_key", str(public_key), "--signature"]
    return subprocess.run([*argv, str(signature)], capture_output=True, text=True, timeout=120, check=False)


async def test_a_completion_registers_one_draft_version_with_lineage_and_bumps_the_minor(platform: Platform) -> None:
    first = await complete_job(platform)
    model = await registered(platform, first.job_id)
    assert model.status is ModelStatus.DRAFT and model.version == "1.0.0" and model.ai_module == "vehicles"
    assert model.metrics["precision"] == 0.8 and model.metrics["map50"] == 0.7
    assert abs(model.metrics["f1"] - 2 * 0.8 * 0.6 / 1.4) < 1e-9 and "val/box_loss" not in model.metrics
    assert model.metrics["inference_ms"] > 0  # measured on the ONNX model
    assert [a.name for a in model.artifacts] == ["model.onnx"]

    again = await complete_job(platform, job_id=first.job_id)  # the same completion, delivered twice
    second = await complete_job(platform)
    named = await complete_job(platform, model_version="2.0.0")
    assert (await registered(platform, second.job_id)).version == "1.1.0"
    assert (await registered(platform, named.job_id)).version == "2.0.0"
    async with platform.client() as api:
        page = await api.list_models(ai_module="vehicles")
        assert page.total == 3 and {m.job_id for m in page.models} == {first.job_id, second.job_id, named.job_id}
        lineage = await api.model_lineage(model.id)
    assert again.job_id == first.job_id
    assert lineage.job_id == first.job_id and lineage.manifest_sha256 == "ab" * 32 and lineage.dataset_version == 1
    assert lineage.config == {"epochs": 2, "imgsz": 32} and len(lineage.config_sha256) == 64
    async with platform.http.get(f"{platform.url}/api/v1/models/{uuid.uuid4()}", headers=platform.auth()) as r:
        assert r.status == 404 and r.content_type == PROBLEM


async def test_refusals_are_problems_and_audited(platform: Platform) -> None:
    model = await registered(platform, (await complete_job(platform)).job_id)  # submitted by the super admin
    viewer = await platform.user_key(Role.VIEWER)
    url = f"{platform.url}/api/v1/models/{model.id}"

    async with platform.http.post(f"{url}/release", json={"reason": "ship it"}, headers=platform.auth()) as r:
        assert r.status == 409 and r.content_type == PROBLEM
        assert "only an approved version" in (await r.json())["detail"]
    async with platform.http.post(f"{url}/approve", json={"reason": "ok"}, headers=platform.auth(viewer)) as r:
        assert r.status == 403 and r.content_type == PROBLEM
    async with platform.http.post(f"{url}/approve", json={"reason": "mine"}, headers=platform.auth()) as r:
        assert r.status == 403 and "four eyes" in (await r.json())["detail"]
    async with platform.http.post(f"{url}/approve", json={}, headers=platform.auth()) as r:
        assert r.status == 422 and (await r.json())["errors"][0]["field"] == "reason"

    # the viewer's approve is refused by the gateway (it needs model:approve) before the registry sees it; the
    # registry's own record of a caller without the permission: tests/test_service_permissions.py
    records = await audit_actions(platform, at_least=1, action="model.approve.refused")
    refused = [(r.action, r.detail["status"]) for r in records if r.service == "registry" and ".refused" in r.action]
    assert refused == [("model.release.refused", 409), ("model.approve.refused", 403)]
    async with platform.client() as api:
        assert (await api.get_model(model.id)).status is ModelStatus.DRAFT  # nothing changed


async def test_approved_by_a_second_admin_released_and_verified_with_the_stock_cli(
    platform: Platform, tmp_path: Path
) -> None:
    model = await registered(platform, (await complete_job(platform)).job_id)
    second_admin = await platform.user_key(Role.ORG_ADMIN, "second admin")
    async with platform.client(second_admin) as api:
        approved = await api.transition_model(model.id, Transition.APPROVE, "mAP good enough for the pilot")
        assert approved.status is ModelStatus.APPROVED and approved.approved_by is not None
        release = await api.release_model(model.id, "pilot on gate 3", hardware=["jetson-orin"])
        assert release.counter == 1 and release.kind == "release" and release.version == "1.0.0"
        assert (await api.get_model(model.id)).status is ModelStatus.RELEASED
        folder = tmp_path / "release"
        signature = await api.download_release(model.id, folder)
        (pem,) = (await api.signing_keys()).keys
    public_key = tmp_path / "release-key.pem"
    public_key.write_text(pem.public_key_pem)
    assert sorted(p.name for p in folder.iterdir()) == ["model.onnx", "release.json"]
    manifest = (folder / "release.json").read_text()
    assert '"counter": 1' in manifest and '"jetson-orin"' in manifest and pem.key_id in manifest

    ok = verify_cli(folder, public_key, signature)
    assert ok.returncode == 0, ok.stderr + ok.stdout
    onnx_bytes = bytearray((folder / "model.onnx").read_bytes())
    onnx_bytes[len(onnx_bytes) // 2] ^= 0x01
    (folder / "model.onnx").write_bytes(bytes(onnx_bytes))
    tampered = verify_cli(folder, public_key, signature)
    assert tampered.returncode != 0

    records = await audit_actions(platform, action="model.released")
    assert {"model.registered", "model.approved", "model.released"} <= {r.action for r in records}


async def test_twenty_concurrent_releases_get_distinct_increasing_counters(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    # twenty released versions of one module at once: more than a plan keeps active (tests/test_plan_limits.py)
    monkeypatch.setitem(
        plans.LIMITS, Plan.FREE, dataclasses.replace(plans.LIMITS[Plan.FREE], active_models_per_module=None)
    )
    completions = await asyncio.gather(*(complete_job(platform, ai_module="gates") for _ in range(20)))
    models = [await registered(platform, c.job_id) for c in completions]
    async with platform.client() as api:
        await api.put_registry_settings(four_eyes=False)  # a single-person team
        for m in models:
            await api.transition_model(m.id, Transition.APPROVE, "batch")
        releases = await asyncio.gather(*(api.release_model(m.id, "all at once") for m in models))
        current = next(i for i in (await api.list_modules()).modules if i.ai_module == "gates").current_release
    counters = [r.counter for r in releases]
    assert sorted(counters) == list(range(1, 21))
    assert current is not None and current.counter == 20
    by_counter = sorted(releases, key=lambda r: r.issued_at)
    assert [r.counter for r in by_counter] == sorted(counters)  # taken in the order they were issued


async def test_rollback_default_and_revert_are_new_higher_releases_of_older_artifacts(platform: Platform) -> None:
    async with platform.client() as api:
        await api.put_registry_settings(four_eyes=False)
        v1, v2 = [await registered(platform, (await complete_job(platform, scale=s)).job_id) for s in (1.0, 2.0)]
        for m in (v1, v2):
            await api.transition_model(m.id, Transition.APPROVE, "ok")
        first = await api.release_model(v1.id, "first")
        await api.set_default_model(v1.id, "factory default")
        await api.release_model(v2.id, "better")
        with_errors = await api.transition_model(v2.id, Transition.DEPRECATE, "false positives at night")
        assert with_errors.status is ModelStatus.DEPRECATED

        rollback = await api.rollback_model(v1.id, "back to the known good one")
        assert (rollback.counter, rollback.kind, rollback.model_id) == (3, "rollback", v1.id)
        onnx_of = {f.name: f.sha256 for f in rollback.files}
        assert onnx_of["model.onnx"] == {f.name: f.sha256 for f in first.files}["model.onnx"]
        assert onnx_of["release.json"] != {f.name: f.sha256 for f in first.files}["release.json"]  # new counter

        revert = await api.revert_module("vehicles", "site reset")
        assert (revert.counter, revert.kind, revert.model_id) == (4, "revert", v1.id)
        module = next(i for i in (await api.list_modules()).modules if i.ai_module == "vehicles")
        assert module.default_model_id == v1.id and module.current_release and module.current_release.counter == 4
        assert (await api.get_model(v1.id)).is_default

        draft = await registered(platform, (await complete_job(platform)).job_id)
        with pytest.raises(ApiError) as refused:
            await api.rollback_model(draft.id, "a never-released version cannot be rolled back to")
        assert refused.value.problem.status == 409
        comparison = await api.compare_models(v1.id, v2.id)
    assert {d.metric for d in comparison.metrics} >= {"precision", "recall", "f1", "inference_ms"}
    assert hashlib.sha256(b"").hexdigest() not in onnx_of.values()


@pytest.mark.slow
async def test_a_trained_job_becomes_a_draft_that_a_second_admin_approves_and_releases(
    platform: Platform, tmp_path: Path
) -> None:
    """The whole path with a real trainer: job → draft version with lineage → approval → signed release."""
    dataset_id, version = await published_version(platform, tmp_path, ai_module="parking")
    await platform.spawn_trainer()
    job = await submit(platform, dataset_id, version)
    done = await wait_job(platform, job["id"], {"completed", "failed"})
    assert done["status"] == "completed", done["error_message"]
    model = await registered(platform, uuid.UUID(job["id"]), limit_s=60)
    assert (model.ai_module, model.version, model.status) == ("parking", "1.0.0", ModelStatus.DRAFT)
    assert {"precision", "recall", "f1", "map50", "map50_95", "inference_ms"} <= set(model.metrics)
    async with platform.client() as api:
        lineage = await api.model_lineage(model.id)
        published = await api.get_version(dataset_id, version)
    assert lineage.job_id == model.job_id and lineage.attempt == done["attempt"] and lineage.dataset_version == version
    assert lineage.manifest_sha256 == published.manifest_sha256 and lineage.config["epochs"] == 2
    assert (lineage.framework_version or "").startswith("ultralytics ") and lineage.trainer_version

    async with platform.client(await platform.user_key(Role.ORG_ADMIN, "reviewer admin")) as api:
        await api.transition_model(model.id, Transition.APPROVE, "checked on the gate 3 footage")
        release = await api.release_model(model.id, "pilot")
        signature = await api.download_release(model.id, tmp_path / "release")
        public_key = tmp_path / "key.pem"
        public_key.write_text((await api.signing_keys()).keys[0].public_key_pem)
    assert release.counter == 1
    verified = verify_cli(tmp_path / "release", public_key, signature)
    assert verified.returncode == 0, verified.stderr + verified.stdout
