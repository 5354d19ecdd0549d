"""A running platform for end-to-end tests: the dataset, scheduler, registry and distribution services and the
gateway in this process, against the real nats-server, PostgreSQL and S3 the session started, with a bootstrapped
super admin. `restart()` stops and starts them all, as a deploy or a crash would, keeping all data."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import nats
import pytest
from aiohttp import web
from pydantic import SecretStr

from modelyard.client.api import ModelyardClient
from modelyard.contracts import subjects
from modelyard.contracts.api.identity import Role
from modelyard.dataset.app import lifespan as dataset_lifespan
from modelyard.dataset.settings import Settings as DatasetSettings
from modelyard.distribution.app import lifespan as distribution_lifespan
from modelyard.distribution.settings import Settings as DistributionSettings
from modelyard.embedded.ports import free_port
from modelyard.embedded.s3 import S3Server
from modelyard.gateway.app import create_app
from modelyard.gateway.bootstrap import bootstrap
from modelyard.gateway.settings import Settings as GatewaySettings
from modelyard.registry.app import lifespan as registry_lifespan
from modelyard.registry.deps import Deps as RegistryDeps
from modelyard.registry.settings import Settings as RegistrySettings
from modelyard.scheduler.app import lifespan as scheduler_lifespan
from modelyard.scheduler.deps import Deps as SchedulerDeps
from modelyard.scheduler.settings import Settings as SchedulerSettings


@dataclass
class Platform:
    url: str
    admin_key: str
    nats_url: str
    database_url: str
    http: aiohttp.ClientSession
    gateway_settings: GatewaySettings
    dataset_settings: DatasetSettings
    scheduler_settings: SchedulerSettings
    registry_settings: RegistrySettings
    distribution_settings: DistributionSettings
    work_dir: Path
    _stack: contextlib.AsyncExitStack = field(default_factory=contextlib.AsyncExitStack)
    trainers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    scheduler: SchedulerDeps | None = None
    registry: RegistryDeps | None = None

    def auth(self, key: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {key or self.admin_key}"}

    def client(self, key: str | None = None) -> ModelyardClient:
        return ModelyardClient(self.url, key or self.admin_key)

    async def start(self) -> None:
        await self._stack.enter_async_context(dataset_lifespan(self.dataset_settings))
        _, self.scheduler = await self._stack.enter_async_context(scheduler_lifespan(self.scheduler_settings))
        _, self.registry = await self._stack.enter_async_context(registry_lifespan(self.registry_settings))
        await self._stack.enter_async_context(distribution_lifespan(self.distribution_settings))
        runner = web.AppRunner(create_app(self.gateway_settings))
        await runner.setup()
        self._stack.push_async_callback(runner.cleanup)
        await web.TCPSite(runner, self.gateway_settings.host, self.gateway_settings.port).start()

    async def stop(self) -> None:
        for trainer in self.trainers:
            if trainer.poll() is None:
                trainer.terminate()
            await asyncio.to_thread(trainer.wait, 30)
        self.trainers.clear()
        await self._stack.aclose()
        self._stack = contextlib.AsyncExitStack()

    async def restart(self) -> None:
        await self.stop()
        await self.start()

    async def spawn_trainer(self, lease_s: float = 4.0) -> subprocess.Popen[bytes]:
        """A real trainer worker process (`python -m modelyard.trainer`), ready when this returns."""
        s = self.dataset_settings
        index = len(self.trainers)
        env = os.environ | {
            "MODELYARD_TRAINER_NATS_URL": self.nats_url,
            "MODELYARD_TRAINER_S3_ENDPOINT": s.s3_endpoint,
            "MODELYARD_TRAINER_S3_ACCESS_KEY": s.s3_access_key,
            "MODELYARD_TRAINER_S3_SECRET_KEY": s.s3_secret_key.get_secret_value(),
            "MODELYARD_TRAINER_S3_BUCKET": s.s3_bucket,
            "MODELYARD_TRAINER_WORK_DIR": str(self.work_dir / f"trainer-{index}"),
            "MODELYARD_TRAINER_LEASE_S": str(lease_s),
            "MODELYARD_TRAINER_LOG_FORMAT": "console",
        }
        log = (self.work_dir / f"trainer-{index}.log").open("ab")
        argv = [sys.executable, "-m", "modelyard.trainer", "--pool", "cpu"]
        proc = subprocess.Popen(argv, env=env, stdout=log, stderr=log)  # noqa: ASYNC220 - returns at once
        log.close()
        self.trainers.append(proc)
        nc = await nats.connect(self.nats_url)
        try:
            for _ in range(200):
                if proc.poll() is not None:
                    raise AssertionError(f"trainer exited: {(self.work_dir / f'trainer-{index}.log').read_text()}")
                # every ready trainer answers; wait until this one's count is reached
                answers = 0
                inbox = nc.new_inbox()
                sub = await nc.subscribe(inbox)
                await nc.publish(subjects.service_health("trainer"), b"", reply=inbox)
                with contextlib.suppress(TimeoutError, nats.errors.TimeoutError):
                    while True:
                        await sub.next_msg(timeout=0.2)
                        answers += 1
                await sub.unsubscribe()
                if answers >= sum(1 for t in self.trainers if t.poll() is None):
                    return proc
                await asyncio.sleep(0.1)
        finally:
            await nc.close()
        raise AssertionError("trainer did not become ready")

    async def user_key(self, role: Role, name: str | None = None) -> str:
        async with self.client() as api:
            return (await api.create_user(name or role.value, role)).api_key


@pytest.fixture
async def platform(database_url: str, nats_url: str, s3_server: S3Server, tmp_path: Path) -> AsyncIterator[Platform]:
    # the free plan's request rate (50/s per key) would throttle schemathesis and the polling loops: scaled by 100 here;
    # tests/test_identity.py checks the limit itself
    gateway_settings = GatewaySettings(
        nats_url=nats_url, database_url=database_url, port=free_port(), rate_limit_scale=100
    )
    dataset_settings = DatasetSettings(
        nats_url=nats_url,
        database_url=database_url,
        s3_endpoint=s3_server.endpoint,
        s3_access_key=s3_server.access_key,
        s3_secret_key=SecretStr(s3_server.secret_key),
        s3_bucket=f"t-{uuid.uuid4().hex[:12]}",
        s3_region=s3_server.region,
    )
    scheduler_settings = SchedulerSettings(
        nats_url=nats_url,
        database_url=database_url,
        s3_endpoint=dataset_settings.s3_endpoint,
        s3_access_key=dataset_settings.s3_access_key,
        s3_secret_key=dataset_settings.s3_secret_key,
        s3_bucket=dataset_settings.s3_bucket,
        s3_region=dataset_settings.s3_region,
        retry_backoff_s=(0.5, 1.0),
        retry_poll_s=0.2,
    )
    registry_settings = RegistrySettings(
        nats_url=nats_url,
        database_url=database_url,
        s3_endpoint=dataset_settings.s3_endpoint,
        s3_access_key=dataset_settings.s3_access_key,
        s3_secret_key=dataset_settings.s3_secret_key,
        s3_bucket=dataset_settings.s3_bucket,
        s3_region=dataset_settings.s3_region,
        signing_key_path=tmp_path / "keys" / "release.pem",
        create_signing_key=True,
        work_dir=tmp_path / "registry",
        measure_inference_runs=3,
    )
    distribution_settings = DistributionSettings(
        nats_url=nats_url,
        database_url=database_url,
        s3_endpoint=dataset_settings.s3_endpoint,
        s3_access_key=dataset_settings.s3_access_key,
        s3_secret_key=dataset_settings.s3_secret_key,
        s3_bucket=dataset_settings.s3_bucket,
        s3_region=dataset_settings.s3_region,
        retry_backoff_s=(0.5, 1.0),
        retry_poll_s=0.2,
    )
    admin_key, _ = await bootstrap(gateway_settings, "default", tmp_path / "admin-token")
    async with aiohttp.ClientSession() as http:
        platform = Platform(
            f"http://{gateway_settings.host}:{gateway_settings.port}",
            admin_key,
            nats_url,
            database_url,
            http,
            gateway_settings,
            dataset_settings,
            scheduler_settings,
            registry_settings,
            distribution_settings,
            tmp_path,
        )
        await platform.start()
        try:
            yield platform
        finally:
            await platform.stop()
