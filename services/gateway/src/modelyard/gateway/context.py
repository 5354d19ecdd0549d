"""Typed keys for what the gateway keeps on the app and on each request."""

from __future__ import annotations

import aiohttp
from aiohttp import web

from modelyard.contracts.api.identity import Principal
from modelyard.gateway.repository import IdentityRepository
from modelyard.gateway.settings import Settings
from modelyard.runtime.rpc import RpcClient
from modelyard.runtime.service import Resources

SETTINGS = web.AppKey("settings", Settings)
RESOURCES = web.AppKey("resources", Resources)
IDENTITY = web.AppKey("identity", IdentityRepository)
RPC = web.AppKey("rpc", RpcClient)
HTTP = web.AppKey("http", aiohttp.ClientSession)  # to stream upload chunks into the object store
# paths answered without an API key: those of the endpoints described `public` (endpoints.py)
PUBLIC_PATHS: web.AppKey[frozenset[str]] = web.AppKey("public_paths")

CORRELATION_ID = web.RequestKey("correlation_id", str)
PRINCIPAL = web.RequestKey("principal", Principal)
CORRELATION_HEADER = "X-Correlation-Id"


def principal(request: web.Request) -> Principal:
    return request[PRINCIPAL]


def correlation_id(request: web.Request) -> str:
    return request[CORRELATION_ID]
