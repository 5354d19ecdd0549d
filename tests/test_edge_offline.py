"""A real edge agent through a NATS outage, against the real servers: while nats-server is down the agent keeps
answering inference with the version it serves and queues its heartbeats and status reports; when the server is
back (same port, same JetStream store, as after a crash or an upgrade) what it queued arrives, in order and once each,
and the platform catches up: the device's last heartbeat advances, and a deployment installed during the outage is
completed.

The outage is real: this module gives the test its own nats-server (`nats_server`, embedded even under
`--backend docker`), which the test stops and starts again; the whole platform loses NATS with the agent."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import httpx
import nats
import pytest

from modelyard.contracts import streams, subjects
from modelyard.contracts.envelope import Event, decode
from modelyard.contracts.events import DeviceHeartbeat, DeviceStatusReported
from modelyard.edge import agent as agent_module
from modelyard.edge.agent import Agent
from modelyard.edge.install import install
from modelyard.embedded.nats import NatsServer

from .agent_support import agents, export_yolo, infer, serving
from .conftest import Platform
from .edge_support import released_model, wait_deployment

T = TypeVar("T")
OUTAGE_S = 4.0  # the agent heartbeats every 0.5 s (agent_support): some eight of them wait for the server


@pytest.fixture(scope="module")
def yolo_model(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return export_yolo(tmp_path_factory.mktemp("yolo"), 0)


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[NatsServer]:
    """This test's nats-server, which it may stop and start (the root fixture gives only its URL)."""
    with NatsServer(tmp_path / "nats") as server:
        yield server


@pytest.fixture
def nats_url(nats_server: NatsServer) -> str:
    return nats_server.url


@contextlib.asynccontextmanager
async def outage(server: NatsServer, agent: Agent) -> AsyncIterator[None]:
    """nats-server down (the agent has noticed) inside the block, up again after it, whatever happens inside."""
    await asyncio.to_thread(server.stop)
    try:
        await _eventually(lambda: _healthz(agent), lambda h: h["connected"] is False, "the agent to notice")
        yield
    finally:
        if not server.running:
            await asyncio.to_thread(server.start)


async def _eventually(
    probe: Callable[[], Awaitable[T]], check: Callable[[T], bool], what: str, limit_s: float = 30
) -> T:
    """Poll `probe` until `check` holds; a probe that raises (the gateway reconnecting to NATS) is tried again."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit_s
    last: object = None
    while loop.time() < deadline:
        try:
            last = value = await probe()
            if check(value):
                return value
        except (AssertionError, OSError, httpx.HTTPError) as exc:
            last = exc
        await asyncio.sleep(0.2)
    raise AssertionError(f"waited {limit_s:g}s for {what}; last: {last!r}")


async def _healthz(agent: Agent) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=agent.url, timeout=5) as http:
        response = await http.get("/healthz")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def _device(platform: Platform, device_id: uuid.UUID) -> dict[str, Any]:
    async with platform.http.get(f"{platform.url}/api/v1/devices/{device_id}", headers=platform.auth()) as r:
        assert r.status == 200, await r.text()
        body: dict[str, Any] = await r.json()
        return body


async def _deployment(platform: Platform, deployment_id: str) -> dict[str, Any]:
    async with platform.http.get(f"{platform.url}/api/v1/deployments/{deployment_id}", headers=platform.auth()) as r:
        assert r.status == 200, await r.text()
        body: dict[str, Any] = await r.json()
        return body


async def _stored(nats_url: str, subject: str) -> list[Event]:
    """Every event stored in the EDGE stream under `subject`, in stream order."""
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        info = await js.stream_info(streams.EDGE.name, subjects_filter=subject)
        count = (info.state.subjects or {}).get(subject, 0)
        sub = await js.subscribe(subject, stream=streams.EDGE.name, ordered_consumer=True)
        events = [decode((await sub.next_msg(timeout=10)).data) for _ in range(count)]
        await sub.unsubscribe()
        return events
    finally:
        await nc.close()


def _stamp(value: str) -> datetime:
    return datetime.fromisoformat(value)


async def test_an_agent_keeps_serving_through_a_nats_outage_and_its_queued_heartbeats_arrive_after(
    platform: Platform, nats_server: NatsServer, tmp_path: Path, yolo_model: bytes
) -> None:
    model = await released_model(platform, "parking", yolo_model)
    async with agents(platform, tmp_path, "edge-o") as (agent,):
        device_id = agent.identity.device_id
        body = {"model_id": str(model.id), "target": {"device": str(device_id)}}
        async with platform.http.post(f"{platform.url}/api/v1/deployments", json=body, headers=platform.auth()) as r:
            assert r.status == 201, await r.text()
            created = await r.json()
        done = await wait_deployment(platform, created["id"], {"completed", "failed", "aborted"}, limit_s=60)
        assert done["status"] == "completed", done
        before = await _eventually(
            lambda: _device(platform, device_id),
            lambda d: d["last_heartbeat_at"] is not None and "parking" in d["active"],
            "a heartbeat with the model",
        )
        first = await infer(agent, "parking")
        assert (first["model_version"], first["counter"]) == (model.version, 1)

        async with outage(nats_server, agent):
            down_at = datetime.now(UTC)
            answers = []
            loop = asyncio.get_running_loop()
            end = loop.time() + OUTAGE_S
            while loop.time() < end:
                answers.append(await infer(agent, "parking"))
                await asyncio.sleep(0.25)
            assert (await _healthz(agent))["connected"] is False  # still down: every answer came offline
            up_at = datetime.now(UTC)
        assert len(answers) >= 8
        assert {(a["model_version"], a["counter"]) for a in answers} == {(model.version, 1)}

        await _eventually(lambda: _healthz(agent), lambda h: h["connected"] is True, "the agent to reconnect")
        after = await _eventually(
            lambda: _device(platform, device_id),
            lambda d: _stamp(d["last_heartbeat_at"]) > up_at,
            "the platform to take heartbeats again",
        )
        assert _stamp(after["last_heartbeat_at"]) > _stamp(before["last_heartbeat_at"])
        assert after["active"]["parking"]["version"] == model.version

        # the heartbeats made during the outage were kept and sent after it, in order and once each
        stored = await _eventually(
            lambda: _stored(platform.nats_url, subjects.edge_heartbeat(device_id)),
            lambda hs: any(h.occurred_at > up_at for h in hs),
            "the queued heartbeats in the stream",
        )
    beats = [h for h in stored if isinstance(h, DeviceHeartbeat)]
    assert len(beats) == len(stored)
    offline = [h for h in beats if down_at < h.occurred_at < up_at]
    assert len(offline) >= int(OUTAGE_S / 0.5) - 2, [h.occurred_at for h in beats]
    assert all(h.active["parking"].version == model.version for h in offline)
    assert [h.occurred_at for h in beats] == sorted(h.occurred_at for h in beats)
    assert len({h.event_id for h in beats}) == len(beats)


async def test_a_release_installed_during_a_nats_outage_is_reported_when_nats_returns(
    platform: Platform, nats_server: NatsServer, tmp_path: Path, yolo_model: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The agent takes the deploy message while NATS is up, and installs it only once NATS is down: the agent's
    # install step (modelyard.edge.install.install, as the agent module calls it) waits for the test, so the outage
    # starts between the two.
    taken, go = asyncio.Event(), asyncio.Event()

    async def gated_install(*args: Any, **kwargs: Any) -> None:
        taken.set()
        await go.wait()
        await install(*args, **kwargs)

    monkeypatch.setattr(agent_module, "install", gated_install)
    model = await released_model(platform, "parking", yolo_model)
    async with agents(platform, tmp_path, "edge-i") as (agent,):
        device_id = agent.identity.device_id
        body = {"model_id": str(model.id), "target": {"device": str(device_id)}}
        async with platform.http.post(f"{platform.url}/api/v1/deployments", json=body, headers=platform.auth()) as r:
            assert r.status == 201, await r.text()
            did = (await r.json())["id"]
        await asyncio.wait_for(taken.wait(), 30)
        assert [d["status"] for d in (await _deployment(platform, did))["devices"]] == ["pending"]

        async with outage(nats_server, agent):
            down_at = datetime.now(UTC)
            go.set()
            await serving(agent, "parking", model.version, limit_s=30)  # installed offline
            for _ in range(3):
                answer = await infer(agent, "parking")
                assert (answer["model_version"], answer["counter"]) == (model.version, 1)
            up_at = datetime.now(UTC)

        done = await _eventually(
            lambda: _deployment(platform, did),
            lambda d: d["status"] in {"completed", "failed", "aborted"},
            "the deployment to finish",
        )
        assert done["status"] == "completed" and done["devices"][0]["status"] == "completed", done
        device = await _eventually(
            lambda: _device(platform, device_id), lambda d: "parking" in d["active"], "the device's active model"
        )
        assert device["active"]["parking"] == {"version": model.version, "counter": 1}
        stored = await _stored(platform.nats_url, subjects.edge_status(device_id))
    reports = [r for r in stored if isinstance(r, DeviceStatusReported) and str(r.deployment_id) == did]
    assert [r.status.value for r in reports] == ["downloading", "installing", "completed"]
    assert all(down_at < r.occurred_at < up_at for r in reports)  # made offline, stored after
