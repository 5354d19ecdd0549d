"""Edge agents end to end, against the real NATS, PostgreSQL and S3 and the real registry signatures: a release
deployed to two agents that then answer inference with it; a canary whose model fails its health check aborts the
rollout and keeps serving the old model; every refusal reported with its reason while the old model serves on;
a restart that serves the same version without a download."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import nats
import pytest

from modelyard.contracts.api.devices import DeviceDeployStatus
from modelyard.contracts.envelope import decode
from modelyard.contracts.events import DeployRequested, DeviceStatusReported
from modelyard.contracts.events.edge import DeployFile
from modelyard.edge.agent import Agent
from modelyard.registry.signing import Signer
from modelyard.runtime.storage import ObjectStore

from .agent_support import agents, export_yolo, infer, serving, start_agent
from .conftest import Platform
from .edge_support import released_model, wait_deployment


@pytest.fixture(scope="module")
def yolo_models(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, bytes]:
    root = tmp_path_factory.mktemp("yolo")
    return export_yolo(root / "a", 0), export_yolo(root / "b", 1)


async def _deploy(platform: Platform, model_id: uuid.UUID, **body: Any) -> dict[str, Any]:
    payload = {"model_id": str(model_id), "target": {"all": True}} | body
    async with platform.http.post(f"{platform.url}/api/v1/deployments", json=payload, headers=platform.auth()) as r:
        assert r.status == 201, await r.text()
        created: dict[str, Any] = await r.json()
    return await wait_deployment(platform, created["id"], {"completed", "failed", "aborted"}, limit_s=90)


async def test_a_release_deployed_to_two_agents_is_served_by_both(
    platform: Platform, tmp_path: Path, yolo_models: tuple[bytes, bytes]
) -> None:
    model = await released_model(platform, "parking", yolo_models[0])
    async with agents(platform, tmp_path, "edge-a", "edge-b") as (a, b):
        done = await _deploy(platform, model.id)
        assert done["status"] == "completed", done
        for agent in (a, b):
            answer = await infer(agent, "parking")
            assert answer["model_version"] == model.version and answer["counter"] == 1
            assert isinstance(answer["detections"], list)
            for d in answer["detections"]:
                x1, y1, x2, y2 = d["box"]
                assert 0 <= x1 <= x2 <= 96 and 0 <= y1 <= y2 <= 64 and d["class_name"] in ("car", "bus", "truck")
        async with platform.http.get(f"{platform.url}/api/v1/devices", headers=platform.auth()) as r:
            devices = (await r.json())["devices"]
    assert {d["name"]: d["active"].get("parking", {}).get("version") for d in devices} == {
        "edge-a": model.version,
        "edge-b": model.version,
    }


async def test_a_canary_that_fails_its_health_check_aborts_the_rollout_and_keeps_the_old_model(
    platform: Platform, tmp_path: Path, yolo_models: tuple[bytes, bytes]
) -> None:
    good = await released_model(platform, "parking", yolo_models[0])
    broken = await released_model(platform, "parking")  # signed and valid ONNX, but not a detector
    async with agents(platform, tmp_path, "canary", "second") as (canary, second):
        assert (await _deploy(platform, good.id))["status"] == "completed"
        done = await _deploy(platform, broken.id, canary=1)
        assert done["status"] == "aborted"
        by_name = {d["name"]: d for d in done["devices"]}
        assert by_name["canary"]["status"] == "failed" and "health check" in by_name["canary"]["error"]
        assert by_name["second"]["status"] == "skipped"
        for agent in (canary, second):
            assert (await infer(agent, "parking"))["model_version"] == good.version


def _manifest(org_id: uuid.UUID, counter: int, onnx: bytes, key_id: str, **changes: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "format": "modelyard-release/1",
        "org_id": str(org_id),
        "ai_module": "parking",
        "model_id": str(uuid.uuid4()),
        "version": f"9.{counter}.0",
        "task": "detect",
        "framework": "ultralytics",
        "counter": counter,
        "kind": "release",
        "issued_at": now.isoformat(),
        "expires_at": (now + timedelta(days=30)).isoformat(),
        "platforms": ["any"],
        "hardware": ["any"],
        "key_id": key_id,
        "files": {"model.onnx": {"sha256": hashlib.sha256(onnx).hexdigest(), "size": len(onnx)}},
        "metrics": {},
        "lineage": {
            "job_id": str(uuid.uuid4()),
            "attempt": 1,
            "dataset_id": str(uuid.uuid4()),
            "dataset_version": 1,
            "manifest_sha256": "0" * 64,
            "config_sha256": "0" * 64,
        },
    } | changes


class Forger:
    """Builds releases (signed by the registry's key or another), puts them in S3 and sends them to one agent."""

    def __init__(self, platform: Platform, agent: Agent, root: Path) -> None:
        s = platform.dataset_settings
        self.store = ObjectStore(s.s3_endpoint, s.s3_access_key, s.s3_secret_key.get_secret_value(), s.s3_bucket)
        self.platform, self.agent, self.root = platform, agent, root
        self.trusted = Signer.load(platform.registry_settings.signing_key_path)
        self.other = Signer.load(root / "other-key.pem", create=True)

    def sign(self, name: str, onnx: bytes, manifest: dict[str, Any], signer: Signer) -> tuple[Path, Path]:
        folder = self.root / name / "release"
        folder.mkdir(parents=True)
        (folder / "model.onnx").write_bytes(onnx)
        (folder / "release.json").write_text(json.dumps(manifest))
        signature = self.root / name / "model.sig"
        signer.sign(folder, signature)
        return folder, signature

    async def send(
        self, folder: Path, signature: Path, counter: int, *, declared: dict[str, dict[str, Any]] | None = None
    ) -> DeviceStatusReported:
        prefix = f"forged/{uuid.uuid4().hex}"
        files = []
        for name in ("model.onnx", "release.json"):
            data = (folder / name).read_bytes()
            await self.store.put(f"{prefix}/{name}", data)
            facts: dict[str, Any] = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
            facts |= (declared or {}).get(name, {})
            url = await self.store.presigned_get(f"{prefix}/{name}")
            files.append(DeployFile(name=name, url=url, sha256=str(facts["sha256"]), size=int(facts["size"])))
        await self.store.put(f"{prefix}/model.sig", signature)
        ident = self.agent.identity
        message = DeployRequested(
            correlation_id=f"forged-{uuid.uuid4()}",
            org_id=ident.org_id,
            actor="service:distribution",
            deployment_id=uuid.uuid4(),
            device_id=ident.device_id,
            ai_module="parking",
            model_id=uuid.uuid4(),
            version=f"9.{counter}.0",
            counter=counter,
            files=files,
            signature_url=await self.store.presigned_get(f"{prefix}/model.sig"),
            urls_expire_at=datetime.now(UTC) + timedelta(minutes=10),
        )
        nc = await nats.connect(self.platform.nats_url)
        try:
            sub = await nc.subscribe(ident.status_subject)
            await nc.jetstream().publish(message.nats_subject, message.encode(), headers=message.headers())
            while True:
                report = decode((await sub.next_msg(timeout=60)).data)
                ours = isinstance(report, DeviceStatusReported) and report.deployment_id == message.deployment_id
                if ours and isinstance(report, DeviceStatusReported) and report.status.final:
                    return report
        finally:
            await nc.close()


async def test_every_bad_release_is_refused_with_its_reason_while_the_old_model_serves(
    platform: Platform, tmp_path: Path, yolo_models: tuple[bytes, bytes]
) -> None:
    good = await released_model(platform, "parking", yolo_models[0])
    new_onnx = yolo_models[1]
    async with agents(platform, tmp_path / "agents", "edge-x") as (agent,):
        assert (await _deploy(platform, good.id))["status"] == "completed"
        forger = Forger(platform, agent, tmp_path / "forged")
        org = agent.identity.org_id

        def signed(name: str, counter: int, signer: Signer | None = None, **changes: Any) -> tuple[Path, Path]:
            signer = signer or forger.trusted
            manifest = _manifest(org, counter, new_onnx, signer.key_id, **changes)
            return forger.sign(name, new_onnx, manifest, signer)

        folder, signature = signed("ok-2", 2)
        other_folder, _ = signed("ok-3", 3)
        an_hour_ago = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
        cases: list[tuple[str, tuple[Path, Path], int, dict[str, dict[str, Any]] | None]] = [
            ("bad_signature", (other_folder, signature), 3, None),  # another release's bundle
            ("untrusted_key", signed("other", 2, forger.other), 2, None),
            ("counter_not_newer", signed("replayed", 1), 1, None),  # an older release replayed
            ("expired", signed("expired", 2, expires_at=an_hour_ago), 2, None),
            ("wrong_hardware", signed("hw", 2, hardware=["jetson-orin"]), 2, None),
            ("too_long", (folder, signature), 2, {"model.onnx": {"size": len(new_onnx) - 100}}),
            ("checksum", (folder, signature), 2, {"model.onnx": {"sha256": "0" * 64}}),  # tampered bytes
        ]
        for reason, (forged, sig), counter, declared in cases:
            report = await forger.send(forged, sig, counter, declared=declared)
            assert (report.status, report.reason) == (DeviceDeployStatus.FAILED, reason), (reason, report.error)
            assert (await infer(agent, "parking"))["model_version"] == good.version, reason
        accepted = await forger.send(folder, signature, 2)
        assert accepted.status is DeviceDeployStatus.COMPLETED, accepted.error
        assert (await infer(agent, "parking"))["model_version"] == "9.2.0"


async def test_a_restarted_agent_serves_the_same_version_without_downloading(
    platform: Platform, tmp_path: Path, yolo_models: tuple[bytes, bytes]
) -> None:
    model = await released_model(platform, "parking", yolo_models[0])
    agent = await start_agent(platform, tmp_path / "edge-r", "edge-r")
    try:
        assert (await _deploy(platform, model.id))["status"] == "completed"
    finally:
        await agent.stop()
    s = platform.dataset_settings
    store = ObjectStore(s.s3_endpoint, s.s3_access_key, s.s3_secret_key.get_secret_value(), s.s3_bucket)
    for obj in await store.list_objects("releases/"):
        await store.delete(obj.key)  # nothing left to download: the restart must not need it
    again = await start_agent(platform, tmp_path / "edge-r", "edge-r")
    try:
        await serving(again, "parking", model.version, limit_s=5)
        assert (await infer(again, "parking"))["model_version"] == model.version
    finally:
        await again.stop()
