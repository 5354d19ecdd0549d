"""Distribution against the real servers, with scripted stand-ins for edge agents: enrollment with one-time
tokens, the release gate, targets, staged rollouts (a failing canary aborts before the next wave), retries."""

from __future__ import annotations

import hashlib
import uuid

import httpx

from modelyard.contracts.api.identity import Role

from .conftest import Platform
from .edge_support import (
    FakeDevice,
    enroll,
    enrollment_token,
    fail,
    fake_devices,
    released_model,
    succeed,
    wait_deployment,
)
from .registry_support import complete_job, registered

PROBLEM = "application/problem+json"


async def test_enrollment_tokens_are_one_time_and_devices_are_listed_with_labels(platform: Platform) -> None:
    token = await enrollment_token(platform, {"site": "gate-3"})
    body = {"token": token, "name": "cam-1", "hardware_id": "hw-1", "labels": {"role": "entrance"}}
    async with platform.http.post(f"{platform.url}/api/v1/devices/enroll", json=body) as r:
        assert r.status == 201
        enrolled = await r.json()
    assert enrolled["deploy_subject"] == f"edge.deploy.{enrolled['org_id']}.{enrolled['device_id']}"
    assert enrolled["trusted_keys"] and enrolled["trusted_keys"][0]["public_key_pem"].startswith("-----BEGIN PUBLIC")
    async with platform.http.post(f"{platform.url}/api/v1/devices/enroll", json=body) as r:
        assert r.status == 401 and r.content_type == PROBLEM  # used already
    async with platform.http.post(
        f"{platform.url}/api/v1/devices/enroll", json=body | {"token": "mye_" + "x" * 40}
    ) as r:
        assert r.status == 401
    async with platform.http.get(f"{platform.url}/api/v1/devices?label=site=gate-3", headers=platform.auth()) as r:
        listed = await r.json()
    assert listed["total"] == 1 and listed["devices"][0]["labels"] == {"site": "gate-3", "role": "entrance"}
    viewer = await platform.user_key(Role.VIEWER)
    url = f"{platform.url}/api/v1/devices/enrollment-tokens"
    async with platform.http.post(url, json={}, headers=platform.auth(viewer)) as r:
        assert r.status == 403


async def test_only_a_released_version_deploys_and_only_to_devices_that_exist(platform: Platform) -> None:
    draft = await registered(platform, (await complete_job(platform)).job_id)
    await enroll(platform, "cam-1")
    url = f"{platform.url}/api/v1/deployments"
    async with platform.http.post(
        url, json={"model_id": str(draft.id), "target": {"all": True}}, headers=platform.auth()
    ) as r:
        assert r.status == 409 and "only a released version" in (await r.json())["detail"]
    released = await released_model(platform)
    body = {"model_id": str(released.id), "target": {"labels": {"site": "nowhere"}}}
    async with platform.http.post(url, json=body, headers=platform.auth()) as r:
        assert r.status == 422 and (await r.json())["errors"][0]["field"] == "target"
    body = {"model_id": str(released.id), "target": {"all": True, "device": str(uuid.uuid4())}}
    async with platform.http.post(url, json=body, headers=platform.auth()) as r:
        assert r.status == 422
    viewer = await platform.user_key(Role.VIEWER)
    body = {"model_id": str(released.id), "target": {"all": True}}
    async with platform.http.post(url, json=body, headers=platform.auth(viewer)) as r:
        assert r.status == 403


async def test_a_rollout_goes_wave_by_wave_to_completion(platform: Platform) -> None:
    model = await released_model(platform)
    devices = [FakeDevice(await enroll(platform, f"cam-{i}", {"site": "a"}), succeed) for i in range(3)]
    async with fake_devices(platform, *devices):
        body = {"model_id": str(model.id), "target": {"labels": {"site": "a"}}, "canary": 1, "wave_size": 1}
        async with platform.http.post(f"{platform.url}/api/v1/deployments", json=body, headers=platform.auth()) as r:
            assert r.status == 201, await r.text()
            created = await r.json()
        assert created["waves"] == 3 and [d["wave"] for d in created["devices"]] == [0, 1, 2]
        done = await wait_deployment(platform, created["id"], {"completed", "failed", "aborted"})
    assert done["status"] == "completed" and {d["status"] for d in done["devices"]} == {"completed"}
    assert all(len(d.received) == 1 for d in devices)
    message = devices[0].received[0]
    assert message.counter == 1 and message.version == model.version and message.ai_module == "vehicles"
    assert {f.name for f in message.files} == {"model.onnx", "release.json"} and message.signature_url


async def test_a_failing_canary_aborts_the_rollout_before_the_next_wave(platform: Platform) -> None:
    model = await released_model(platform)
    canary = FakeDevice(await enroll(platform, "cam-0", {"site": "b"}), fail("health_check"))
    others = [FakeDevice(await enroll(platform, f"cam-{i}", {"site": "b"}), succeed) for i in (1, 2)]
    async with fake_devices(platform, canary, *others):
        body = {"model_id": str(model.id), "target": {"labels": {"site": "b"}}, "canary": 1}
        async with platform.http.post(f"{platform.url}/api/v1/deployments", json=body, headers=platform.auth()) as r:
            created = await r.json()
        done = await wait_deployment(platform, created["id"], {"completed", "failed", "aborted"})
    assert done["status"] == "aborted" and done["failures"] == 1
    statuses = {d["name"]: (d["status"], d["error"]) for d in done["devices"]}
    assert statuses["cam-0"] == ("failed", "refused: health_check")
    assert statuses["cam-1"][0] == statuses["cam-2"][0] == "skipped"
    assert not others[0].received and not others[1].received  # the next wave never went out


async def test_a_retryable_failure_is_sent_again_with_fresh_urls(platform: Platform) -> None:
    model = await released_model(platform)
    answers = iter([fail("http"), succeed])
    device = FakeDevice(await enroll(platform, "flaky"), lambda m: next(answers)(m))
    async with fake_devices(platform, device):
        body = {"model_id": str(model.id), "target": {"device": str(device.enrolled.device_id)}}
        async with platform.http.post(f"{platform.url}/api/v1/deployments", json=body, headers=platform.auth()) as r:
            created = await r.json()
        done = await wait_deployment(platform, created["id"], {"completed", "failed", "aborted"})
    assert done["status"] == "completed" and done["devices"][0]["attempts"] == 2
    assert [m.attempt for m in device.received] == [1, 2]
    first, retry = device.received[0], device.received[1]
    assert retry.urls_expire_at >= first.urls_expire_at  # presigned again, at the retry
    async with httpx.AsyncClient(timeout=30) as plain:
        fetched = (await plain.get(retry.files[0].url)).content
    assert hashlib.sha256(fetched).hexdigest() == retry.files[0].sha256
