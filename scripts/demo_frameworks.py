"""`make demo-regress | demo-audio | demo-forecast | demo-frameworks`: each framework plugin end to end on a
throw-away stack: data the script generates → upload → version → train (a few epochs on the CPU) → approve (a
second admin) → signed release → deploy to the stack's edge agent → an inference answered by the edge.

    python scripts/demo_frameworks.py regress audio forecast
"""

from __future__ import annotations

import asyncio
import json
import math
import sys
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
from rich.console import Console

from modelyard.client import devstack, stackfile, synthetic
from modelyard.client.api import ModelyardClient
from modelyard.client.uploader import upload_file
from modelyard.contracts.api.datasets import DatasetCreate, Task
from modelyard.contracts.api.identity import Role
from modelyard.contracts.api.models import ModelVersion, Transition
from modelyard.contracts.api.training import ConfigMode, JobCreate
from modelyard.contracts.api.uploads import UploadKind

out = Console(highlight=False, soft_wrap=True)


def _hourly_zip(path: Path) -> Path:
    """Two weeks of hourly temperature and load with a daily cycle (seed 004's shape)."""
    start = datetime(2026, 1, 5, tzinfo=UTC)
    lines = ["timestamp,temperature,load"]
    for hour in range(14 * 24):
        t = 8 + 6 * math.sin(2 * math.pi * (hour - 9) / 24)
        load = 55 + 20 * math.cos(2 * math.pi * (hour - 18) / 24)
        lines.append(f"{(start + timedelta(hours=hour)).isoformat()},{t:.3f},{load:.3f}")
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("substation.csv", "\n".join(lines) + "\n")
    return path


def _last_day(archive: Path) -> bytes:
    with zipfile.ZipFile(archive) as zf:
        rows = zf.read("substation.csv").decode().strip().splitlines()[1:]
    window = [r.split(",") for r in rows[-24:]]
    return json.dumps(
        {"timestamps": [r[0] for r in window], "values": [[float(v) for v in r[1:]] for r in window]}
    ).encode()


def _first_member(suffix: str) -> Callable[[Path], bytes]:
    def read(archive: Path) -> bytes:
        with zipfile.ZipFile(archive) as zf:
            return zf.read(next(n for n in sorted(zf.namelist()) if n.endswith(suffix)))

    return read


@dataclass(frozen=True)
class Demo:
    framework: str
    task: Task
    module: str
    kind: UploadKind
    make_data: Callable[[Path], Path]
    overrides: dict[str, Any]
    request: Callable[[Path], bytes]  # what the edge is asked, from the uploaded data


DEMOS = {
    "regress": Demo(
        "regress", Task.REGRESS, "frame-importance", UploadKind.ANNOTATIONS_JSONL,
        lambda p: synthetic.ratings_zip(p / "frames.zip", frames=24, size=48),
        {"epochs": 3, "imgsz": 32, "batch": 8}, _first_member(".png"),
    ),
    "audio": Demo(
        "audio", Task.AUDIO_CLASSIFY, "yard-sounds", UploadKind.AUDIO_ZIP,
        lambda p: synthetic.audio_zip(p / "clips.zip", per_class=8, seconds=0.5, rate=8000),
        {"epochs": 3, "batch_size": 8, "sample_rate": 8000, "duration_s": 0.5, "n_fft": 512, "hop_length": 128},
        _first_member(".wav"),
    ),
    "forecast": Demo(
        "forecast", Task.FORECAST, "grid-load", UploadKind.CSV_SERIES,
        lambda p: _hourly_zip(p / "series.zip"),
        {"model": "svr", "input_steps": 24, "output_steps": 6}, _last_day,
    ),
}  # fmt: skip


async def _registered(api: ModelyardClient, job_id: UUID) -> ModelVersion:
    for _ in range(300):
        page = await api.list_models(job_id=job_id)
        if page.models:
            return page.models[0]
        await asyncio.sleep(0.2)
    raise RuntimeError(f"the registry did not register job {job_id}")


async def run(demo: Demo, info: stackfile.StackInfo, token: str, workdir: Path) -> None:
    out.rule(f"[bold]{demo.framework}[/] ({demo.task.value})")
    data = demo.make_data(workdir)
    async with ModelyardClient(info.gateway, token) as api:
        dataset = await api.create_dataset(
            DatasetCreate(name=f"{demo.framework} demo", task=demo.task, ai_module=demo.module)
        )
        upload = await api.wait_upload((await upload_file(api, data, dataset.id, demo.kind)).id)
        version = await api.publish_version(dataset.id, include="all")
        out.print(f"data      {data.name}: {upload.imported_samples} samples → version {version.version}")
        resolved = await api.resolve_config(demo.task.value, "developer", demo.overrides, framework=demo.framework)
        out.print(f"config    {resolved.cli_preview}")
        job = await api.create_job(
            JobCreate(
                name=f"{demo.framework}-demo",
                dataset_id=dataset.id,
                dataset_version=version.version,
                framework=demo.framework,
                mode=ConfigMode.DEVELOPER,
                overrides=demo.overrides,
            )
        )
        async for update in api.watch_job(job.id):
            if update.get("event") == "training_status" and update["status"] in ("completed", "failed", "cancelled"):
                out.print(f"training  {update['status']}: {json.dumps(update['metrics'])[:160]}")
                break
        model = await _registered(api, job.id)
        shown = {k: round(v, 4) for k, v in model.metrics.items()}
        out.print(f"registry  {model.ai_module} {model.version} ({model.status.value}) {shown}")
        approver = (await api.create_user(f"{demo.framework}-approver", Role.ORG_ADMIN)).api_key
    async with ModelyardClient(info.gateway, approver) as admin:
        await admin.transition_model(model.id, Transition.APPROVE, "demo")
        release = await admin.release_model(model.id, "demo")
        (device,) = [d for d in (await admin.list_devices()).devices if d.name == devstack.EDGE_AGENT]
        deployment = await admin.create_deployment(model.id, device=device.id)
        async for state in admin.watch_deployment(deployment.id, timeout_s=120):
            last = state
        out.print(f"release   #{release.counter} signed, deployed to {device.name}: {last.status.value}")
    agent = info.edge_agents[devstack.EDGE_AGENT]
    async with httpx.AsyncClient(base_url=agent, timeout=30) as edge:
        answer = (await edge.post(f"/v1/models/{demo.module}/infer", content=demo.request(data))).json()
    out.print(f"edge      {agent}/v1/models/{demo.module}/infer → {json.dumps(answer)[:300]}")


def main(names: list[str]) -> None:
    unknown = [n for n in names if n not in DEMOS]
    if unknown or not names:
        raise SystemExit(f"usage: demo_frameworks.py {' '.join(DEMOS)} (unknown: {unknown})")
    with tempfile.TemporaryDirectory(prefix="modelyard-demo-") as tmp:
        stack = devstack.DevStack(Path(tmp) / ".modelyard", gateway_port=devstack.pick_gateway_port(0))
        try:
            with out.status("starting the stack (servers, services, a trainer, the edge agent dev-edge-1)..."):
                info = stack.start()
            token = (stack.root / stackfile.TOKEN_FILE).read_text().strip()
            for name in names:
                asyncio.run(run(DEMOS[name], info, token, Path(tmp)))
        finally:
            stack.stop()
            out.print("[green]stack stopped[/]; the demo left nothing running")


if __name__ == "__main__":
    main(sys.argv[1:])
