"""Liveness, readiness and version."""

from __future__ import annotations

import asyncio
from importlib.metadata import version
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from modelyard.contracts.api.common import Health, VersionInfo
from modelyard.contracts.api.paging import NoQuery
from modelyard.gateway import context
from modelyard.gateway.endpoints import Api, Endpoint

api = Api("system")
routes = api.routes


@api.route(
    "GET",
    "/healthz",
    "Readiness: NATS and PostgreSQL",
    request=NoQuery,
    response=Health,
    also={503: "NATS or PostgreSQL is not reachable; `checks` says which"},
    public=True,
    forwarded=False,
)
async def healthz(request: web.Request, ep: Endpoint[NoQuery, Health]) -> web.Response:
    resources = request.app[context.RESOURCES]
    checks = {"nats": "ok" if resources.nc.is_connected else "disconnected"}
    try:
        await asyncio.wait_for(resources.pool.fetchval("SELECT 1"), 2.0)
        checks["postgres"] = "ok"
    except Exception as exc:  # noqa: BLE001 - any failure means not ready; the reason goes to the body
        checks["postgres"] = f"error: {type(exc).__name__}"
    healthy = all(v == "ok" for v in checks.values())
    body = Health(status="ok" if healthy else "degraded", checks=checks)
    return web.json_response(body.model_dump(), status=200 if healthy else 503)


@api.route(
    "GET",
    "/api/v1/version",
    "The gateway's version",
    request=NoQuery,
    response=VersionInfo,
    public=True,
    forwarded=False,
)
async def gateway_version(request: web.Request, ep: Endpoint[NoQuery, VersionInfo]) -> web.Response:
    return web.json_response(VersionInfo(version=version("modelyard-gateway")).model_dump())


@api.route(
    "GET",
    "/metrics",
    "Prometheus metrics",
    request=NoQuery,
    content_type="text/plain",
    response_schema={"type": "string"},
    public=True,
    forwarded=False,
)
async def prometheus_metrics(request: web.Request, ep: Endpoint[NoQuery, Any]) -> web.Response:
    """Prometheus exposition: the gateway's own process (its outbox, requests to services, the audit projection)."""
    return web.Response(body=generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})
