"""The gateway's aiohttp application: resources in a cleanup context (with the audit projection's consumer),
middlewares, routes."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web

from modelyard.gateway import context, middleware
from modelyard.gateway.audit import AUDIT, AuditRepository, register_projection
from modelyard.gateway.repository import IdentityRepository
from modelyard.gateway.routes import (
    audit,
    audit_description,
    datasets,
    devices,
    docs,
    live,
    models,
    samples,
    system,
    training,
    uploads,
    users,
    versions,
)
from modelyard.gateway.settings import SCHEMA, Settings
from modelyard.runtime.migrations import load_migrations
from modelyard.runtime.rpc import RpcClient
from modelyard.runtime.service import service_resources

# the route modules that describe their endpoints (routes/audit.py is described in routes/audit_description.py)
DESCRIBED = (system, users, datasets, uploads, samples, versions, training, models, devices, live, docs)


async def _resources(app: web.Application) -> AsyncIterator[None]:
    settings = app[context.SETTINGS]
    async with service_resources(
        settings,
        schema=SCHEMA,
        migrations=load_migrations("modelyard.gateway.migrations"),
        register=register_projection,
    ) as resources:
        app[context.RESOURCES] = resources
        app[AUDIT] = AuditRepository(resources.pool)
        app[context.IDENTITY] = IdentityRepository(resources.pool)
        app[context.RPC] = RpcClient(resources.broker, timeout_s=settings.request_timeout_s)
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=120)
        async with aiohttp.ClientSession(timeout=timeout, auto_decompress=False) as http:
            app[context.HTTP] = http
            yield


def create_app(settings: Settings) -> web.Application:
    app = web.Application(
        middlewares=[middleware.correlation, middleware.errors, middleware.authenticate],
        client_max_size=settings.max_body_bytes,
    )
    app[context.SETTINGS] = settings
    app.cleanup_ctx.append(_resources)
    for module in (system, users, datasets, uploads, samples, versions, training, models, devices, live, audit, docs):
        app.add_routes(module.routes)
    endpoints = [*(e for module in DESCRIBED for e in module.api.endpoints), *audit_description.ENDPOINTS]
    app[context.PUBLIC_PATHS] = frozenset(e.path for e in endpoints if e.public)
    docs.publish(app, endpoints)
    return app
