"""The gateway's aiohttp application: resources in a cleanup context (with the audit projection's consumer),
middlewares, routes."""

from __future__ import annotations

import contextlib
import os
import secrets
import uuid
from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web
from nats.aio.client import Client as Nats
from nats.aio.msg import Msg

from modelyard.contracts import subjects
from modelyard.gateway import context, middleware
from modelyard.gateway.audit import AUDIT, AuditRepository, register_projection
from modelyard.gateway.auth import MAX_TOKEN_S, Authenticator, RateLimiter
from modelyard.gateway.jobcache import JobCache
from modelyard.gateway.repository import IdentityRepository
from modelyard.gateway.routes import (
    audit,
    datasets,
    devices,
    docs,
    keys,
    live,
    models,
    orgs,
    samples,
    system,
    training,
    uploads,
    users,
    versions,
)
from modelyard.gateway.settings import SCHEMA, Settings
from modelyard.runtime.logging import get_logger
from modelyard.runtime.migrations import load_migrations
from modelyard.runtime.rpc import RpcClient
from modelyard.runtime.service import service_resources

log = get_logger(__name__)
# the route modules, each describing its endpoints
ROUTES = (system, users, keys, orgs, datasets, uploads, samples, versions, training, models, devices, live, audit, docs)


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
        identity = app[context.IDENTITY] = IdentityRepository(resources.pool)
        app[context.RPC] = RpcClient(resources.broker, timeout_s=settings.request_timeout_s)
        app[context.AUTH] = await _authenticator(settings, identity, resources.nc)
        app[context.RATE_LIMITS] = RateLimiter(settings.rate_limit_scale)
        jobs = app[context.JOBS] = JobCache(settings.job_cache_s)
        await jobs.start(resources.nc)
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=120)
        try:
            async with aiohttp.ClientSession(timeout=timeout, auto_decompress=False) as http:
                app[context.HTTP] = http
                yield
        finally:
            await jobs.stop()


def _token_secret(settings: Settings) -> bytes | None:
    if settings.token_secret is not None:
        return settings.token_secret.get_secret_value().encode()
    path = settings.token_secret_file
    if path is None:
        return None
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileExistsError):  # another replica made it first: read theirs
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_urlsafe(48))
    secret = path.read_text().strip().encode()
    if len(secret) < 32:
        raise ValueError(f"the token secret in {path} is shorter than 32 bytes")
    return secret


async def _authenticator(settings: Settings, identity: IdentityRepository, nc: Nats) -> Authenticator:
    """Keys revoked on any replica (a notice on core NATS) or recently (from the database) refuse their tokens."""
    secret = _token_secret(settings)
    if secret is None:
        log.warning("gateway.token_secret_missing", effect="access tokens work only on this replica until it stops")
    auth = Authenticator(identity, secret=secret, cache_s=settings.key_cache_s)

    async def on_revoked(msg: Msg) -> None:
        with contextlib.suppress(ValueError):
            auth.revoked(uuid.UUID(msg.data.decode()))

    await nc.subscribe(subjects.GATEWAY_KEY_REVOKED, cb=on_revoked)
    for key_id in await identity.revoked_since(MAX_TOKEN_S):
        auth.revoked(key_id)
    return auth


def create_app(settings: Settings) -> web.Application:
    app = web.Application(
        middlewares=[middleware.correlation, middleware.errors, middleware.authenticate],
        client_max_size=settings.max_body_bytes,
    )
    app[context.SETTINGS] = settings
    app.cleanup_ctx.append(_resources)
    for module in ROUTES:
        app.add_routes(module.routes)
    endpoints = [e for module in ROUTES for e in module.api.endpoints]
    app[context.PUBLIC_PATHS] = frozenset(e.path for e in endpoints if e.public)
    docs.publish(app, endpoints)
    return app
