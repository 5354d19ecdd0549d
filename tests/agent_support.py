"""Real edge agents for the end-to-end tests: enrolled through the gateway, running in this process against the
test's NATS, serving their local API on a free port; and YOLO detect models exported by Ultralytics in a child
process (never imported here)."""

from __future__ import annotations

import asyncio
import contextlib
import io
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
from PIL import Image

from modelyard.edge import identity
from modelyard.edge.agent import Agent, AgentConfig
from modelyard.embedded.ports import free_port

from .conftest import Platform
from .edge_support import enrollment_token

EXPORTER = Path(__file__).parents[1] / "services" / "edge" / "tests" / "ultralytics_child.py"


def export_yolo(out: Path, seed: int) -> bytes:
    """A YOLO11n detect model (three classes, random weights from `seed`) as Ultralytics exports it."""
    argv = [sys.executable, str(EXPORTER), "--out", str(out), "--imgsz", "64", "--seed", str(seed)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return (out / "model.onnx").read_bytes()


def jpeg(width: int = 96, height: int = 64) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (120, 60, 200)).save(buffer, format="JPEG")
    return buffer.getvalue()


async def start_agent(platform: Platform, state_dir: Path, name: str, **config: Any) -> Agent:
    known = identity.load(state_dir)
    if known is None:
        known = await identity.enroll(
            platform.url,
            await enrollment_token(platform, config.pop("labels", None)),
            state_dir=state_dir,
            name=name,
            nats_url=platform.nats_url,
            platform="linux-x86_64",
            hardware=config.get("hardware", "cpu"),
            labels={},
        )
    config.pop("labels", None)
    settings = AgentConfig(state_dir=state_dir, port=free_port(), heartbeat_s=0.5, **config)
    agent = Agent(settings, known, identity.trusted_keys(state_dir))
    await agent.start()
    return agent


@contextlib.asynccontextmanager
async def agents(platform: Platform, root: Path, *names: str, **config: Any) -> AsyncIterator[list[Agent]]:
    started = [await start_agent(platform, root / n, n, **dict(config)) for n in names]
    try:
        yield started
    finally:
        for agent in started:
            await agent.stop()


async def infer(agent: Agent, module: str, image: bytes | None = None) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=agent.url, timeout=30) as http:
        response = await http.post(f"/v1/models/{module}/infer", params={"conf": 0.01}, content=image or jpeg())
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def serving(agent: Agent, module: str, version: str, limit_s: float = 60) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit_s
    while loop.time() < deadline:
        if any(m.ai_module == module and m.version == version for m in agent.slots.list()):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{agent.identity.name} does not serve {module} {version}: {agent.slots.list()}")
