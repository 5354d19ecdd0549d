"""Typed keys for what the gateway keeps on the app and on each request."""

from __future__ import annotations

import aiohttp
from aiohttp import web

from modelyard.contracts.api.identity import Principal
from modelyard.gateway.auth import Authenticator, Caller, RateLimiter
from modelyard.gateway.jobcache import JobCache
from modelyard.gateway.repository import IdentityRepository
from modelyard.gateway.settings import Settings
from modelyard.runtime.rpc import RpcClient
from modelyard.runtime.service import Resources

SETTINGS = web.AppKey("settings", Settings)
RESOURCES = web.AppKey("resources", Resources)
IDENTITY = web.AppKey("identity", IdentityRepository)
AUTH = web.AppKey("auth", Authenticator)
RATE_LIMITS = web.AppKey("rate_limits", RateLimiter)
JOBS = web.AppKey("jobs", JobCache)  # GET job status between the job's events
RPC = web.AppKey("rpc", RpcClient)
HTTP = web.AppKey("http", aiohttp.ClientSession)  # to stream upload chunks into the object store
# paths answered without an API key: those of the endpoints described `public` (endpoints.py)
PUBLIC_PATHS: web.AppKey[frozenset[str]] = web.AppKey("public_paths")

CORRELATION_ID = web.RequestKey("correlation_id", str)
PRINCIPAL = web.RequestKey("principal", Principal)
CALLER = web.RequestKey("caller", Caller)  # the principal and how it authenticated (which key, a token or not)
CORRELATION_HEADER = "X-Correlation-Id"


def principal(request: web.Request) -> Principal:
    return request[PRINCIPAL]


def correlation_id(request: web.Request) -> str:
    return request[CORRELATION_ID]


def caller(request: web.Request) -> Caller:
    return request[CALLER]
