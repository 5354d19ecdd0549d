"""The audio framework plugin end to end, against the real stack: sine-tone WAV clips uploaded as an audio_zip, a
published version, an `audio` job trained by a real trainer worker (3 epochs, seconds on the CPU), the registry's
draft approved and released, deployed to an in-process edge agent that answers a WAV with the tone's class."""

from __future__ import annotations

import io
import uuid
import wave
import zipfile
from pathlib import Path
from typing import Any

import httpx

from modelyard.client import synthetic
from modelyard.client.uploader import upload_file
from modelyard.contracts.api.datasets import DatasetCreate, Task
from modelyard.contracts.api.models import Transition
from modelyard.contracts.api.uploads import UploadKind, UploadState

from .agent_support import agents, serving
from .conftest import Platform
from .edge_support import wait_deployment
from .registry_support import registered
from .training_support import wait_job

RATE = 8000
MODULE = "yard-sounds"
FAST = {
    "epochs": 3,
    "batch_size": 8,
    "sample_rate": RATE,
    "duration_s": 0.5,
    "n_fft": 512,
    "hop_length": 128,
    "n_mels": 40,
    "warmup_epochs": 1,
    "lr": 0.003,
    "seed": 0,
}


def _probe_clips(path: Path) -> dict[str, bytes]:
    """One fresh clip per class, made like the training clips but from another seed: class name -> WAV bytes."""
    synthetic.audio_zip(path, per_class=1, seconds=0.5, rate=RATE, seed=7)
    with zipfile.ZipFile(path) as archive:
        return {name.split("/")[0]: archive.read(name) for name in archive.namelist()}


def _wav(rate: int, frames: int = 4000) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(rate)
        writer.writeframes(b"\x10\x00" * frames)
    return buffer.getvalue()


async def _infer(url: str, body: bytes) -> httpx.Response:
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        return await http.post(f"/v1/models/{MODULE}/infer", content=body)


async def test_audio_clips_train_release_and_are_classified_at_the_edge(platform: Platform, tmp_path: Path) -> None:
    await platform.spawn_trainer()
    async with platform.client() as api:
        dataset = await api.create_dataset(
            DatasetCreate(name=f"yard-{uuid.uuid4().hex[:6]}", task=Task.AUDIO_CLASSIFY, ai_module=MODULE)
        )
        archive = synthetic.audio_zip(tmp_path / "tones.zip", per_class=12, val_per_class=4, seconds=0.5, rate=RATE)
        done = await api.wait_upload((await upload_file(api, archive, dataset.id, UploadKind.AUDIO_ZIP)).id)
        assert done.state is UploadState.COMPLETED, done.problems
        assert done.imported_samples == 48
        assert (await api.get_dataset(dataset.id)).class_names == ["high", "low", "mid"]
        version = await api.publish_version(dataset.id, include="all")

    body: dict[str, Any] = {
        "name": "yard-sounds-cnn",
        "dataset_id": str(dataset.id),
        "dataset_version": version.version,
        "framework": "audio",
        "mode": "developer",
        "overrides": FAST,
    }
    async with platform.http.post(f"{platform.url}/api/v1/training/jobs", json=body, headers=platform.auth()) as r:
        assert r.status == 202, await r.text()
        job = await r.json()
    finished = await wait_job(platform, job["id"], {"completed", "failed", "cancelled"})
    assert finished["status"] == "completed", finished
    assert finished["task"] == "audio_classify"

    async with platform.client() as api:
        epochs = (await api.job_metrics(uuid.UUID(job["id"]))).metrics
        assert [m.epoch for m in epochs] == [1, 2, 3]
        assert {"train_loss", "train_accuracy", "val_loss", "val_accuracy", "learning_rate"} <= set(epochs[-1].metrics)
        checkpoints = {c.name for c in (await api.job_checkpoints(uuid.UUID(job["id"]))).checkpoints}
        assert {"last.pt", "best.pt", "model.onnx", "evaluation.json"} <= checkpoints

        model = await registered(platform, uuid.UUID(job["id"]))
        assert model.ai_module == MODULE and model.metrics["accuracy"] >= 0.9
        await api.put_registry_settings(four_eyes=False)
        await api.transition_model(model.id, Transition.APPROVE, "tones are classified")
        await api.release_model(model.id, "pilot at the yard")
        model = await api.get_model(model.id)

    async with agents(platform, tmp_path / "agents", "edge-yard") as (agent,):
        payload = {"model_id": str(model.id), "target": {"all": True}}
        async with platform.http.post(f"{platform.url}/api/v1/deployments", json=payload, headers=platform.auth()) as r:
            assert r.status == 201, await r.text()
            deployment = await r.json()
        done_deploy = await wait_deployment(platform, deployment["id"], {"completed", "failed", "aborted"}, limit_s=90)
        assert done_deploy["status"] == "completed", done_deploy
        await serving(agent, MODULE, model.version)

        hits = 0
        for name, clip in _probe_clips(tmp_path / "probe.zip").items():
            response = await _infer(agent.url, clip)
            assert response.status_code == 200, response.text
            answer = response.json()
            assert answer["ai_module"] == MODULE and answer["model_version"] == model.version
            assert answer["class_name"] in ("low", "mid", "high")
            assert set(answer["probabilities"]) == {"high", "low", "mid"}
            assert abs(sum(answer["probabilities"].values()) - 1.0) < 1e-4
            hits += answer["class_name"] == name
        assert hits == 3, "after 3 epochs the model tells the three tones apart"

        not_wav = await _infer(agent.url, b"\xff\xd8\xff\xe0 this is a jpeg")
        assert not_wav.status_code == 422
        assert not_wav.json()["errors"][0]["field"] == "body" and "not a PCM WAV" in not_wav.text
        wrong_rate = await _infer(agent.url, _wav(16000))
        assert wrong_rate.status_code == 422 and f"expects {RATE} Hz" in wrong_rate.text
