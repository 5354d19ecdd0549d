"""The agent process: restore the models it served (from its state dir, no download), serve local inference at
once, then, whenever NATS is reachable, take deployments from its own durable consumer one at a time, report every
step and a heartbeat. Offline it keeps serving; reports wait in memory and go out when the connection returns."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.metadata
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import nats
import structlog
from aiohttp import web
from nats.aio.client import Client as NatsClient
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError

from modelyard.contracts import streams
from modelyard.contracts.api.devices import ActiveModel, DeviceDeployStatus
from modelyard.contracts.envelope import Event, decode
from modelyard.contracts.events import DeployRequested, DeviceHeartbeat, DeviceStatusReported
from modelyard.edge import runtimes
from modelyard.edge.api import create_api
from modelyard.edge.identity import Identity, credentials
from modelyard.edge.install import MANIFEST_FILE, MODEL_FILE, InstallFailed, install
from modelyard.edge.models import ModelSlots
from modelyard.edge.state import AgentState

log = structlog.get_logger("modelyard.edge")
AGENT_VERSION = importlib.metadata.version("modelyard-edge")


@dataclass
class AgentConfig:
    state_dir: Path
    host: str = "127.0.0.1"
    port: int = 8700
    hardware: str = "cpu"
    platform: str = "linux-x86_64"
    heartbeat_s: float = 10.0
    ack_wait_s: float = 300.0
    extra_keys: list[Path] = field(default_factory=list)


class Agent:
    def __init__(self, config: AgentConfig, identity: Identity, trusted_keys: dict[str, Path]) -> None:
        self.config, self.identity, self.trusted_keys = config, identity, trusted_keys
        self.state = AgentState.load(config.state_dir)
        self.slots = ModelSlots()
        self.outbox: asyncio.Queue[Event] = asyncio.Queue()
        self.nc: NatsClient | None = None
        self.stopping = asyncio.Event()
        self.url = f"http://{config.host}:{config.port}"
        self._runner: web.AppRunner | None = None
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def actor(self) -> str:
        return f"device:{self.identity.device_id}"

    # -- start and stop --------------------------------------------------------------------------------------

    async def start(self) -> None:
        await asyncio.to_thread(self._restore)
        self._runner = web.AppRunner(create_api(self.slots, health=self.health))
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.config.host, self.config.port)
        await site.start()
        self._tasks = [
            asyncio.create_task(self._connected(), name="edge-nats"),
            asyncio.create_task(self._heartbeats(), name="edge-heartbeats"),
        ]
        log.info("edge.started", device=self.identity.name, url=self.url, models=len(self.slots.list()))

    async def stop(self) -> None:
        self.stopping.set()
        await _cancel(self._tasks)
        if self.nc is not None and not self.nc.is_closed:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.nc.close(), 5)
        if self._runner is not None:
            await self._runner.cleanup()

    def _restore(self) -> None:
        """Serve what was active before the restart, from the files on disk: no download."""
        for module, entry in self.state.modules.items():
            if entry.active is None:
                continue
            try:
                release = json.loads((entry.active.folder / MANIFEST_FILE).read_text())
                model = runtimes.load(
                    release["task"],
                    entry.active.folder / MODEL_FILE,
                    ai_module=module,
                    version=entry.active.version,
                    counter=entry.active.counter,
                )
                self.slots.swap(module, model)
            except Exception as exc:  # noqa: BLE001 - a broken file must not stop the other modules
                log.error("edge.restore_failed", module=module, error=repr(exc))

    def health(self) -> dict[str, Any]:
        return {
            "device": self.identity.name,
            "device_id": str(self.identity.device_id),
            "agent_version": AGENT_VERSION,
            "connected": bool(self.nc is not None and self.nc.is_connected),
        }

    # -- NATS ------------------------------------------------------------------------------------------------

    async def _connected(self) -> None:
        """Connect (retrying while offline), then run the deployment loop and the report sender."""
        auth: dict[str, Any] = {}  # NATS in operator mode: this device's credentials, replies on its own inbox
        creds = credentials(self.config.state_dir)
        if creds is not None:
            auth["user_credentials"] = str(creds)
        if self.identity.inbox_prefix is not None:
            auth["inbox_prefix"] = self.identity.inbox_prefix
        while not self.stopping.is_set():
            try:
                self.nc = await nats.connect(
                    self.identity.nats_url,
                    name=f"modelyard-edge-{self.identity.name}",
                    max_reconnect_attempts=-1,
                    reconnect_time_wait=1,
                    connect_timeout=5,
                    **auth,
                )
                break
            except Exception as exc:  # noqa: BLE001 - offline: keep serving, try again
                log.warning("edge.nats_unreachable", error=repr(exc))
                await asyncio.sleep(2)
        sender = asyncio.create_task(self._send_reports())
        try:
            await self._deployments()
        finally:
            await _cancel([sender])

    async def _deployments(self) -> None:
        assert self.nc is not None
        js = self.nc.jetstream()
        durable = f"edge-{self.identity.device_id}"
        config = ConsumerConfig(
            name=durable,  # with a name, nats-py creates through CONSUMER.CREATE.<stream>.<name>.<filter>: the one
            durable_name=durable,  # subject a device's credentials allow (the filter is checked by the server)
            filter_subject=self.identity.deploy_subject,
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL,
            ack_wait=self.config.ack_wait_s,
            max_deliver=5,
        )
        while not self.stopping.is_set():
            try:
                try:
                    await js.consumer_info(streams.EDGE.name, durable)
                except NotFoundError:
                    await js.add_consumer(streams.EDGE.name, config)
                sub = await js.pull_subscribe_bind(durable, streams.EDGE.name)
                break
            except Exception as exc:  # noqa: BLE001 - not reachable yet
                log.warning("edge.consumer_unavailable", error=repr(exc))
                await asyncio.sleep(2)
        async with httpx.AsyncClient(timeout=httpx.Timeout(30.0, connect=10.0)) as http:
            while not self.stopping.is_set():
                try:
                    batch = await sub.fetch(1, timeout=5)
                except (TimeoutError, nats.errors.TimeoutError):
                    continue
                except Exception as exc:  # noqa: BLE001 - disconnected: nats-py reconnects; wait and try again
                    log.warning("edge.fetch_failed", error=repr(exc))
                    await asyncio.sleep(1)
                    continue
                for msg in batch:
                    await self._handle(http, msg)

    async def _handle(self, http: httpx.AsyncClient, msg: Any) -> None:
        try:
            deploy = decode(msg.data)
        except ValueError:
            await msg.term()
            return
        if not isinstance(deploy, DeployRequested) or deploy.device_id != self.identity.device_id:
            await msg.term()
            return
        did = str(deploy.deployment_id)

        async def report(status: DeviceDeployStatus, error: str | None, reason: str | None) -> None:
            await self.outbox.put(
                deploy.caused(
                    DeviceStatusReported,
                    actor=self.actor,
                    device_id=self.identity.device_id,
                    deployment_id=deploy.deployment_id,
                    ai_module=deploy.ai_module,
                    counter=deploy.counter,
                    status=status,
                    error=error,
                    reason=reason,
                )
            )
            with contextlib.suppress(Exception):
                await msg.in_progress()

        if self.state.handled(f"{did}:{deploy.attempt}"):
            await msg.ack()
            return
        log.info("edge.deploy", deployment_id=did, module=deploy.ai_module, counter=deploy.counter)
        try:
            await install(
                deploy,
                state=self.state,
                slots=self.slots,
                http=http,
                trusted_keys=self.trusted_keys,
                hardware=self.config.hardware,
                platform=self.config.platform,
                report=report,
            )
            await report(DeviceDeployStatus.COMPLETED, None, None)
            log.info("edge.installed", module=deploy.ai_module, version=deploy.version, counter=deploy.counter)
        except InstallFailed as exc:
            log.warning("edge.refused", module=deploy.ai_module, counter=deploy.counter, reason=exc.reason)
            await report(DeviceDeployStatus.FAILED, str(exc), exc.reason)
        self.state.mark_handled(f"{did}:{deploy.attempt}")
        self.state.save()
        await msg.ack()
        await self._heartbeat()

    async def _send_reports(self) -> None:
        """Reports leave in order; while NATS is away they wait here and go out when it is back."""
        assert self.nc is not None
        js = self.nc.jetstream()
        while True:
            event = await self.outbox.get()
            while True:
                try:
                    await js.publish(event.nats_subject, event.encode(), headers=event.headers(), timeout=5)
                    break
                except Exception as exc:  # noqa: BLE001 - offline: hold it and try again
                    log.warning("edge.report_waiting", error=repr(exc))
                    await asyncio.sleep(1)

    async def _heartbeat(self) -> None:
        active = {m.ai_module: ActiveModel(version=m.version, counter=m.counter) for m in self.slots.list()}
        await self.outbox.put(
            DeviceHeartbeat(
                correlation_id=f"heartbeat-{self.identity.device_id}",
                org_id=self.identity.org_id,
                actor=self.actor,
                device_id=self.identity.device_id,
                agent_version=AGENT_VERSION,
                active=active,
                health="ok",
            )
        )

    async def _heartbeats(self) -> None:
        while not self.stopping.is_set():
            if self.outbox.qsize() < 100:  # offline for long: one heartbeat waiting is enough news
                await self._heartbeat()
            await asyncio.sleep(self.config.heartbeat_s)


async def _cancel(tasks: list[asyncio.Task[Any]], limit_s: float = 10.0) -> None:
    """Cancel the tasks and wait for them to end, cancelling again while any is still running: Python 3.11's
    `asyncio.wait_for` (inside nats-py's publish and fetch) can swallow a cancellation that arrives as its future
    completes (gh-86296), and a report sender would then wait on its queue forever (seen once in CI)."""
    pending = {task for task in tasks if not task.done()}
    deadline = asyncio.get_running_loop().time() + limit_s
    while pending and asyncio.get_running_loop().time() < deadline:
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=0.2)
    if pending:
        log.warning("edge.tasks_would_not_stop", tasks=[task.get_name() for task in pending])
    for task in tasks:  # what they raised is theirs to log; retrieved so asyncio does not report it again
        if task.done() and not task.cancelled():
            task.exception()
