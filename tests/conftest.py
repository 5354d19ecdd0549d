"""A running platform for end-to-end tests: the dataset service and the gateway in this process, against the real
nats-server and PostgreSQL the session started, with a bootstrapped super admin."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from modelyard.dataset.app import lifespan as dataset_lifespan
from modelyard.dataset.settings import Settings as DatasetSettings
from modelyard.embedded.ports import free_port
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

    def auth(self, key: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {key or self.admin_key}"}


@pytest.fixture
async def platform(database_url: str, nats_url: str, tmp_path: Path) -> AsyncIterator[Platform]:
    gateway_settings = GatewaySettings(nats_url=nats_url, database_url=database_url, port=free_port())
    admin_key, _ = await bootstrap(gateway_settings, "default", tmp_path / "admin-token")
    async with dataset_lifespan(DatasetSettings(nats_url=nats_url, database_url=database_url)):
        runner = web.AppRunner(create_app(gateway_settings))
        await runner.setup()
        await web.TCPSite(runner, gateway_settings.host, gateway_settings.port).start()
        try:
            async with aiohttp.ClientSession() as http:
                yield Platform(
                    f"http://{gateway_settings.host}:{gateway_settings.port}", admin_key, nats_url, database_url, http
                )
        finally:
            await runner.cleanup()
