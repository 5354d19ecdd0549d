"""Calling the services' request subjects straight over NATS, as the gateway does (tests that bypass the gateway
to show a service enforces something itself)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from faststream.nats import NatsBroker

from modelyard.runtime.rpc import RpcClient

from .conftest import Platform


@asynccontextmanager
async def services_rpc(platform: Platform) -> AsyncIterator[RpcClient]:
    broker = NatsBroker(platform.nats_url, logger=None)
    await broker.connect()
    try:
        yield RpcClient(broker)
    finally:
        await broker.stop()
