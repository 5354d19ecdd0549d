"""Pausing and resuming a staged rollout, against the real servers with scripted stand-ins for edge agents: a paused
rollout sends nothing more (no next wave, no retry) even when its current wave finishes, reports itself paused, and
on resume goes on where it stopped and completes; a finished deployment can be neither paused nor resumed (409).

The canary is held in `downloading` by its script and finished by the test (`_report`), so the pause lands between
the canary and the next wave by construction, not by timing."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import nats

from modelyard.contracts.api.devices import DeviceDeployStatus
from modelyard.contracts.api.problems import problem_type
from modelyard.contracts.events import DeployRequested, DeviceStatusReported

from .conftest import Platform
from .edge_support import FakeDevice, enroll, fake_devices, released_model, succeed, wait_deployment

PROBLEM = "application/problem+json"
FINISHED = {"completed", "failed", "aborted"}
# what the next wave would need, with room: a whole 3-wave rollout of fake devices takes well under a second here
# (tests/test_deployments.py), and the retry loop polls every 0.2 s
QUIET_S = 3.0


def hold(_: DeployRequested) -> list[tuple[DeviceDeployStatus, str | None]]:
    """Starts downloading and says nothing more: the test decides when this device finishes."""
    return [(DeviceDeployStatus.DOWNLOADING, None)]


async def _report(
    platform: Platform, device: FakeDevice, status: DeviceDeployStatus, reason: str | None = None
) -> None:
    """What `device` would report next about the last deploy message it got."""
    message = device.received[-1]
    report = message.caused(
        DeviceStatusReported,
        actor=f"device:{device.enrolled.device_id}",
        device_id=device.enrolled.device_id,
        deployment_id=message.deployment_id,
        ai_module=message.ai_module,
        counter=message.counter,
        status=status,
        error=f"refused: {reason}" if reason else None,
        reason=reason,
    )
    nc = await nats.connect(platform.nats_url)
    try:
        await nc.jetstream().publish(report.nats_subject, report.encode(), headers=report.headers())
    finally:
        await nc.close()


async def _deployment(platform: Platform, deployment_id: str) -> dict[str, Any]:
    async with platform.http.get(f"{platform.url}/api/v1/deployments/{deployment_id}", headers=platform.auth()) as r:
        assert r.status == 200, await r.text()
        body: dict[str, Any] = await r.json()
        return body


async def _until(platform: Platform, deployment_id: str, check: Any, limit_s: float = 20) -> dict[str, Any]:
    """Poll the deployment until `check(body)` holds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit_s
    while True:
        body = await _deployment(platform, deployment_id)
        if check(body):
            return body
        assert loop.time() < deadline, body
        await asyncio.sleep(0.1)


async def _post(platform: Platform, deployment_id: str, action: str) -> tuple[int, str, dict[str, Any]]:
    url = f"{platform.url}/api/v1/deployments/{deployment_id}/{action}"
    async with platform.http.post(url, headers=platform.auth()) as r:
        return r.status, r.content_type, await r.json()


async def _create(platform: Platform, model_id: uuid.UUID, site: str) -> dict[str, Any]:
    body = {"model_id": str(model_id), "target": {"labels": {"site": site}}, "canary": 1, "wave_size": 1}
    async with platform.http.post(f"{platform.url}/api/v1/deployments", json=body, headers=platform.auth()) as r:
        assert r.status == 201, await r.text()
        created: dict[str, Any] = await r.json()
    assert created["waves"] == 3 and [d["wave"] for d in created["devices"]] == [0, 1, 2]
    return created


def _statuses(body: dict[str, Any]) -> list[str]:
    return [d["status"] for d in sorted(body["devices"], key=lambda d: d["wave"])]


async def _audit_actions(platform: Platform, deployment_id: str, want: str, limit_s: float = 20) -> list[str]:
    """The deployment's audit actions, oldest first, once `want` is among them (the projection is asynchronous)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit_s
    params = {"resource_id": deployment_id, "limit": "100"}
    while True:
        async with platform.http.get(f"{platform.url}/api/v1/audit", params=params, headers=platform.auth()) as r:
            assert r.status == 200, await r.text()
            events = (await r.json())["events"]
        actions = [e["action"] for e in sorted(events, key=lambda e: e["occurred_at"])]
        if want in actions:
            return actions
        assert loop.time() < deadline, actions
        await asyncio.sleep(0.2)


async def test_a_paused_rollout_sends_no_next_wave_and_resumes_to_completion(platform: Platform) -> None:
    model = await released_model(platform)
    canary = FakeDevice(await enroll(platform, "cam-0", {"site": "p"}), hold)
    others = [FakeDevice(await enroll(platform, f"cam-{i}", {"site": "p"}), succeed) for i in (1, 2)]
    async with fake_devices(platform, canary, *others):
        created = await _create(platform, model.id, "p")
        did = created["id"]
        await _until(platform, did, lambda b: _statuses(b)[0] == "downloading")

        status, _, paused = await _post(platform, did, "pause")
        assert status == 200, paused
        assert paused["status"] == "paused" and paused["current_wave"] == 0
        await _report(platform, canary, DeviceDeployStatus.COMPLETED)  # the canary finishes while paused
        await _until(platform, did, lambda b: _statuses(b)[0] == "completed")
        await asyncio.sleep(QUIET_S)

        held = await _deployment(platform, did)
        assert held["status"] == "paused" and held["current_wave"] == 0, held
        assert _statuses(held) == ["completed", "waiting", "waiting"]
        assert len(canary.received) == 1 and not others[0].received and not others[1].received
        listed_url = f"{platform.url}/api/v1/deployments"
        async with platform.http.get(listed_url, params={"status": "paused"}, headers=platform.auth()) as r:
            assert [d["id"] for d in (await r.json())["deployments"]] == [did]

        status, _, resumed = await _post(platform, did, "resume")
        assert status == 200, resumed
        assert resumed["status"] == "rolling" and resumed["current_wave"] == 1  # the next wave went out at once
        done = await wait_deployment(platform, did, FINISHED)
    assert done["status"] == "completed" and done["failures"] == 0, done
    assert _statuses(done) == ["completed"] * 3
    assert [len(d.received) for d in (canary, *others)] == [1, 1, 1]
    actions = await _audit_actions(platform, did, "deployment.completed")
    sends = [i for i, a in enumerate(actions) if a == "deployment.sent"]
    paused_at, resumed_at = actions.index("deployment.paused"), actions.index("deployment.resumed")
    assert paused_at < resumed_at and len(sends) == 3
    assert not [i for i in sends if paused_at < i < resumed_at], actions  # nothing was sent while paused


async def test_a_retry_falls_due_while_paused_and_is_sent_only_after_resume(platform: Platform) -> None:
    model = await released_model(platform)
    canary = FakeDevice(
        await enroll(platform, "cam-0", {"site": "r"}), lambda m: (hold if m.attempt == 1 else succeed)(m)
    )
    others = [FakeDevice(await enroll(platform, f"cam-{i}", {"site": "r"}), succeed) for i in (1, 2)]
    async with fake_devices(platform, canary, *others):
        did = (await _create(platform, model.id, "r"))["id"]
        await _until(platform, did, lambda b: _statuses(b)[0] == "downloading")
        status, _, paused = await _post(platform, did, "pause")
        assert status == 200 and paused["status"] == "paused", paused
        # a network failure is retryable: the retry is scheduled (0.5 s backoff here) but must wait for the resume
        await _report(platform, canary, DeviceDeployStatus.FAILED, "http")
        await _until(platform, did, lambda b: _statuses(b)[0] == "pending")
        await asyncio.sleep(QUIET_S)
        held = await _deployment(platform, did)
        assert held["status"] == "paused" and held["failures"] == 0, held
        row = next(d for d in held["devices"] if d["name"] == "cam-0")
        assert row["attempts"] == 1 and "retrying" in row["error"], row
        assert [m.attempt for m in canary.received] == [1]
        assert not others[0].received and not others[1].received

        status, _, resumed = await _post(platform, did, "resume")
        assert status == 200 and resumed["status"] == "rolling", resumed
        done = await wait_deployment(platform, did, FINISHED)
    assert done["status"] == "completed" and _statuses(done) == ["completed"] * 3, done
    assert [m.attempt for m in canary.received] == [1, 2]
    assert len(others[0].received) == len(others[1].received) == 1


async def test_a_finished_deployment_can_be_neither_paused_nor_resumed(platform: Platform) -> None:
    model = await released_model(platform)
    device = FakeDevice(await enroll(platform, "cam-0"), succeed)
    async with fake_devices(platform, device):
        body = {"model_id": str(model.id), "target": {"device": str(device.enrolled.device_id)}}
        async with platform.http.post(f"{platform.url}/api/v1/deployments", json=body, headers=platform.auth()) as r:
            did = (await r.json())["id"]
        done = await wait_deployment(platform, did, FINISHED)
    assert done["status"] == "completed", done
    for action in ("pause", "resume"):
        status, content_type, problem = await _post(platform, did, action)
        assert (status, content_type) == (409, PROBLEM), (action, problem)
        assert problem["type"] == problem_type("deployment-finished") and problem["status"] == 409
        assert problem["title"] == "Deployment already finished"
        assert problem["detail"] == f"deployment {did} is completed"
    assert (await _deployment(platform, did))["status"] == "completed"  # refused, and nothing changed
    status, content_type, problem = await _post(platform, str(uuid.uuid4()), "pause")
    assert (status, content_type) == (404, PROBLEM) and problem["type"] == problem_type("deployment-not-found")
