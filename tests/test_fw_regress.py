"""The regress framework plugin end to end, on the real stack: frame ratings (annotations JSONL and their frames)
uploaded into a regress dataset, a published version, jobs trained by a real trainer worker through the plugin's
child, registered versions with regression metrics, approval, signed releases deployed to a real edge agent that
rates a frame with the plugin's runtime; then the seed's default / active / backup models as the registry has them:
the first release is the module's default, a second trained version is released over it, and a rollback to the
first is served under a higher counter."""

from __future__ import annotations

import io
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from modelyard.client import synthetic
from modelyard.client.api import ModelyardClient
from modelyard.client.uploader import upload_file
from modelyard.contracts.api.datasets import DatasetCreate, Task
from modelyard.contracts.api.models import ModelStatus, ModelVersion, Transition
from modelyard.contracts.api.uploads import UploadKind, UploadState
from modelyard.edge.agent import Agent

from .agent_support import agents, serving
from .conftest import Platform
from .edge_support import wait_deployment
from .registry_support import registered
from .training_support import wait_job

MODULE = "frame-importance"
EPOCH_KEYS = {"train/loss", "val/loss", "val/mse", "val/mae", "val/spearman", "lr"}


async def _published_ratings(api: ModelyardClient, tmp_path: Path) -> tuple[uuid.UUID, int]:
    dataset = await api.create_dataset(
        DatasetCreate(name=f"frames-{uuid.uuid4().hex[:6]}", task=Task.REGRESS, ai_module=MODULE)
    )
    archive = synthetic.ratings_zip(tmp_path / "ratings.zip", frames=20, size=48, seed=3)
    done = await api.wait_upload((await upload_file(api, archive, dataset.id, UploadKind.ANNOTATIONS_JSONL)).id)
    assert done.state is UploadState.COMPLETED, done.problems
    version = await api.publish_version(dataset.id, include="all", val_fraction=0.25)
    return dataset.id, version.version


async def _train(platform: Platform, dataset_id: uuid.UUID, version: int, mode: str, **overrides: Any) -> str:
    body = {
        "name": "frame-importance",
        "dataset_id": str(dataset_id),
        "dataset_version": version,
        "framework": "regress",
        "mode": mode,  # the task defaults to the dataset's: regress
        "overrides": {"epochs": 2, "imgsz": 32, "batch": 8} | overrides,
    }
    async with platform.http.post(f"{platform.url}/api/v1/training/jobs", json=body, headers=platform.auth()) as r:
        assert r.status == 202, await r.text()
        job_id: str = (await r.json())["id"]
    done = await wait_job(platform, job_id, {"completed", "failed", "cancelled"}, limit_s=180)
    assert done["status"] == "completed", done.get("error_message")
    return job_id


async def _release(api: ModelyardClient, model: ModelVersion, reason: str) -> int:
    await api.transition_model(model.id, Transition.APPROVE, "val MSE checked")
    return (await api.release_model(model.id, reason)).counter


async def _deploy(platform: Platform, api: ModelyardClient, model: ModelVersion) -> None:
    created = await api.create_deployment(model.id, all_devices=True)
    done = await wait_deployment(platform, str(created.id), {"completed", "failed", "aborted"}, limit_s=90)
    assert done["status"] == "completed", done


def _frame() -> bytes:
    out = io.BytesIO()
    image = Image.new("RGB", (64, 48), (30, 30, 30))
    image.paste((250, 240, 90), (8, 8, 40, 40))
    image.save(out, format="JPEG")
    return out.getvalue()


async def _rate(agent: Agent, frame: bytes) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=agent.url, timeout=30) as http:
        response = await http.post(f"/v1/models/{MODULE}/infer", content=frame)
        assert response.status_code == 200, response.text
        refused = await http.post(f"/v1/models/{MODULE}/infer", content=b"not an image")
        assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "body", refused.text
    answer: dict[str, Any] = response.json()
    assert set(answer) == {"ai_module", "model_version", "counter", "score"}
    assert 0.0 <= answer["score"] <= 1.0
    return answer


@pytest.mark.slow
async def test_frame_ratings_train_release_serve_on_the_edge_and_roll_back(platform: Platform, tmp_path: Path) -> None:
    frame = _frame()
    async with platform.client() as api:
        dataset_id, version = await _published_ratings(api, tmp_path)
        resolved = await api.resolve_config("regress", "user", {"epochs": 2}, framework="regress")
        assert resolved.values["epochs"] == 2 and "modelyard.plugins.regress.train" in resolved.cli_preview
        await platform.spawn_trainer()

        first_job = await _train(platform, dataset_id, version, "user")
        metrics = await api.job_metrics(uuid.UUID(first_job))
        assert [m.epoch for m in metrics.metrics] == [1, 2]
        assert all(set(m.metrics) >= EPOCH_KEYS for m in metrics.metrics)
        files = {c.name for c in (await api.job_checkpoints(uuid.UUID(first_job))).checkpoints}
        assert files >= {"last.pt", "best.pt", "model.onnx", "val_predictions.csv"}

        first = await registered(platform, uuid.UUID(first_job))
        assert (first.task, first.framework, first.status) == ("regress", "regress", ModelStatus.DRAFT)
        assert {"mse", "mae", "spearman", "inference_ms"} <= set(first.metrics)
        assert 0.0 <= first.metrics["mse"] <= 1.0
        await api.put_registry_settings(four_eyes=False)
        assert await _release(api, first, "first frame-importance model") == 1

        async with agents(platform, tmp_path, "studio-edge") as (agent,):
            await _deploy(platform, api, first)
            await serving(agent, MODULE, first.version)
            active = await _rate(agent, frame)
            assert (active["model_version"], active["counter"]) == (first.version, 1)

            # The seed's factory default: the first release. Then a retrained model becomes the active one...
            assert (await api.set_default_model(first.id, "factory default")).is_default
            second_job = await _train(platform, dataset_id, version, "developer", seed=1, optimizer="sgd", lr=0.05)
            second = await registered(platform, uuid.UUID(second_job))
            assert second.version != first.version
            assert await _release(api, second, "retrained on the same ratings") == 2
            await _deploy(platform, api, second)
            await serving(agent, MODULE, second.version)
            assert (await _rate(agent, frame))["counter"] == 2

            # ...and the backup comes back: a rollback is a new, higher release of the first model's artifacts.
            rollback = await api.rollback_model(first.id, "the retrained model rates worse")
            assert (rollback.counter, rollback.kind, rollback.version) == (3, "rollback", first.version)
            await _deploy(platform, api, first)
            await serving(agent, MODULE, first.version)
            restored = await _rate(agent, frame)
            assert (restored["model_version"], restored["counter"]) == (first.version, 3)
            assert restored["score"] == active["score"]  # the same model file rates the same frame the same

        module = next(m for m in (await api.list_modules()).modules if m.ai_module == MODULE)
        assert module.default_model_id == first.id
        assert module.current_release is not None and module.current_release.counter == 3
