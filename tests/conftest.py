"""A running platform for end-to-end tests: the dataset service and the gateway in this process, against the real
nats-server, PostgreSQL and S3 the session started, with a bootstrapped super admin. `restart()` stops and starts
both, as a deploy or a crash would, keeping all data."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from pydantic import SecretStr

from modelyard.client.api import ModelyardClient
from modelyard.contracts.api.identity import Role
from modelyard.dataset.app import lifespan as dataset_lifespan
from modelyard.dataset.settings import Settings as DatasetSettings
from modelyard.embedded.ports import free_port
from modelyard.embedded.s3 import S3Server
from modelyard.gateway.app import create_app
from modelyard.gateway.bootstrap import bootstrap
from modelyard.gateway.settings import Settings as GatewaySettings


@dataclass
class Platform:
    url: str
    admin_key: str
    nats_url: str
    database_url: str
    http: aiohttp.ClientSession
    gateway_settings: GatewaySettings
    dataset_settings: DatasetSettings
    _stack: contextlib.AsyncExitStack = field(default_factory=contextlib.AsyncExitStack)

    def auth(self, key: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {key or self.admin_key}"}

    def client(self, key: str | None = None) -> ModelyardClient:
        return ModelyardClient(self.url, key or self.admin_key)

    async def start(self) -> None:
        await self._stack.enter_async_context(dataset_lifespan(self.dataset_settings))
        runner = web.AppRunner(create_app(self.gateway_settings))
        await runner.setup()
        self._stack.push_async_callback(runner.cleanup)
        await web.TCPSite(runner, self.gateway_settings.host, self.gateway_settings.port).start()

    async def stop(self) -> None:
        await self._stack.aclose()
        self._stack = contextlib.AsyncExitStack()

    async def restart(self) -> None:
        await self.stop()
        await self.start()

    async def user_key(self, role: Role, name: str | None = None) -> str:
        async with self.client() as api:
            return (await api.create_user(name or role.value, role)).api_key


@pytest.fixture
async def platform(database_url: str, nats_url: str, s3_server: S3Server, tmp_path: Path) -> AsyncIterator[Platform]:
    gateway_settings = GatewaySettings(nats_url=nats_url, database_url=database_url, port=free_port())
    dataset_settings = DatasetSettings(
        nats_url=nats_url,
        database_url=database_url,
        s3_endpoint=s3_server.endpoint,
        s3_access_key=s3_server.access_key,
        s3_secret_key=SecretStr(s3_server.secret_key),
        s3_bucket=f"t-{uuid.uuid4().hex[:12]}",
        s3_region=s3_server.region,
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
        )
        await platform.start()
        try:
            yield platform
        finally:
            await platform.stop()
