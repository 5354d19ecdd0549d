"""Helpers for the deployment tests: a released model, enrolled devices, and a scripted stand-in for an edge agent
(it answers deploy messages on its own subject with the status steps a test asks for)."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import nats
from nats.aio.client import Client as NatsClient

from modelyard.contracts.api.devices import DeviceDeployStatus, DeviceEnrolled
from modelyard.contracts.api.models import ModelVersion, Transition
from modelyard.contracts.envelope import decode
from modelyard.contracts.events import DeployRequested, DeviceStatusReported

from .conftest import Platform
from .registry_support import complete_job, registered


async def released_model(
    platform: Platform, ai_module: str = "vehicles", onnx_model: bytes | None = None
) -> ModelVersion:
    completed = await complete_job(platform, ai_module=ai_module, onnx_model=onnx_model)
    model = await registered(platform, completed.job_id)
    async with platform.client() as api:
        await api.put_registry_settings(four_eyes=False)
        await api.transition_model(model.id, Transition.APPROVE, "fine")
        await api.release_model(model.id, "ship")
        return await api.get_model(model.id)


async def enrollment_token(platform: Platform, labels: dict[str, str] | None = None) -> str:
    url = f"{platform.url}/api/v1/devices/enrollment-tokens"
    async with platform.http.post(url, json={"labels": labels or {}}, headers=platform.auth()) as r:
        assert r.status == 201, await r.text()
        token: str = (await r.json())["token"]
        return token


async def enroll(platform: Platform, name: str, labels: dict[str, str] | None = None) -> DeviceEnrolled:
    token = await enrollment_token(platform, labels)
    body = {"token": token, "name": name, "hardware_id": f"hw-{uuid.uuid4().hex[:8]}"}
    async with platform.http.post(f"{platform.url}/api/v1/devices/enroll", json=body) as r:
        assert r.status == 201, await r.text()
        return DeviceEnrolled.model_validate(await r.json())


Script = Callable[[DeployRequested], list[tuple[DeviceDeployStatus, str | None]]]


def succeed(_: DeployRequested) -> list[tuple[DeviceDeployStatus, str | None]]:
    return [
        (DeviceDeployStatus.DOWNLOADING, None),
        (DeviceDeployStatus.INSTALLING, None),
        (DeviceDeployStatus.COMPLETED, None),
    ]


def fail(reason: str) -> Script:
    def script(_: DeployRequested) -> list[tuple[DeviceDeployStatus, str | None]]:
        return [(DeviceDeployStatus.DOWNLOADING, None), (DeviceDeployStatus.FAILED, reason)]

    return script


class FakeDevice:
    """Listens on its own deploy subject and reports what `script` says; keeps every message it got."""

    def __init__(self, enrolled: DeviceEnrolled, script: Script) -> None:
        self.enrolled, self.script = enrolled, script
        self.received: list[DeployRequested] = []

    async def _on(self, nc: NatsClient, data: bytes) -> None:
        message = decode(data)
        assert isinstance(message, DeployRequested)
        self.received.append(message)
        js = nc.jetstream()
        for status, reason in self.script(message):
            report = message.caused(
                DeviceStatusReported,
                actor=f"device:{self.enrolled.device_id}",
                device_id=self.enrolled.device_id,
                deployment_id=message.deployment_id,
                ai_module=message.ai_module,
                counter=message.counter,
                status=status,
                error=f"refused: {reason}" if reason else None,
                reason=reason,
            )
            await js.publish(report.nats_subject, report.encode(), headers=report.headers())


@contextlib.asynccontextmanager
async def fake_devices(platform: Platform, *devices: FakeDevice) -> AsyncIterator[None]:
    nc = await nats.connect(platform.nats_url)
    try:
        for device in devices:

            async def handler(msg: Any, device: FakeDevice = device) -> None:
                await device._on(nc, msg.data)

            await nc.subscribe(device.enrolled.deploy_subject, cb=handler)
        yield
    finally:
        await nc.close()


async def wait_deployment(
    platform: Platform, deployment_id: str, done: set[str], limit_s: float = 30
) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit_s
    while True:
        async with platform.http.get(
            f"{platform.url}/api/v1/deployments/{deployment_id}", headers=platform.auth()
        ) as r:
            body: dict[str, Any] = await r.json()
        if body["status"] in done or loop.time() > deadline:
            return body
        await asyncio.sleep(0.1)
