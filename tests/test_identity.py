"""Identity against the real servers: organisations with their first admin, scoped / expiring / revocable API keys,
access tokens, a super admin acting in another org, and per-key rate limits (429 with Retry-After)."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import jwt
from aiohttp import web
from pydantic import SecretStr

from modelyard.contracts.api.identity import Role
from modelyard.embedded.ports import free_port
from modelyard.gateway.app import create_app
from modelyard.gateway.settings import Settings as GatewaySettings

from .conftest import Platform

PROBLEM = "application/problem+json"
SECRET = "a-shared-token-secret-for-the-replicas"


async def call(
    platform: Platform,
    method: str,
    path: str,
    key: str | None,
    body: Any = None,
    *,
    url: str | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any, dict[str, str]]:
    sent = (platform.auth(key) if key else {}) | (headers or {})
    async with platform.http.request(method, f"{url or platform.url}{path}", json=body, headers=sent) as r:
        data = await r.json(content_type=None)
        if r.status >= 400:
            assert r.content_type == PROBLEM and data["status"] == r.status, data
        return r.status, data, dict(r.headers)


@contextlib.asynccontextmanager
async def replica(platform: Platform, **overrides: Any) -> AsyncIterator[str]:
    """Another gateway on the same database and NATS, as a second replica behind a load balancer would be."""
    settings = GatewaySettings(
        nats_url=platform.nats_url, database_url=platform.database_url, port=free_port(), **overrides
    )
    runner = web.AppRunner(create_app(settings))
    await runner.setup()
    try:
        await web.TCPSite(runner, settings.host, settings.port).start()
        yield f"http://{settings.host}:{settings.port}"
    finally:
        await runner.cleanup()


async def test_a_super_admin_creates_an_org_whose_admin_key_is_shown_once(platform: Platform) -> None:
    status, org, headers = await call(platform, "POST", "/api/v1/orgs", None, {"name": "acme"}, headers=platform.auth())
    assert status == 201 and org["plan"] == "free" and headers["Cache-Control"] == "no-store"
    assert org["admin_api_key"].startswith("myk_")
    status, me, _ = await call(platform, "GET", "/api/v1/me", org["admin_api_key"])
    assert status == 200 and me["role"] == "org_admin" and me["org_id"] == org["id"] == str(uuid.UUID(org["id"]))

    # the new org's trail starts with its creation and its admin, both by the super admin
    _, root, _ = await call(platform, "GET", "/api/v1/me", platform.admin_key)
    deadline = time.monotonic() + 10
    while True:
        _, trail, _ = await call(platform, "GET", "/api/v1/audit", org["admin_api_key"])
        if trail["total"] >= 2 or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.1)
    assert {(e["action"], e["actor"]) for e in trail["events"]} == {
        ("org.created", f"user:{root['id']}"),
        ("user.created", f"user:{root['id']}"),
    }
    status, pro, _ = await call(platform, "POST", "/api/v1/orgs", platform.admin_key, {"name": "beta", "plan": "pro"})
    assert status == 201 and pro["plan"] == "pro"
    status, problem, _ = await call(platform, "POST", "/api/v1/orgs", platform.admin_key, {"name": "acme"})
    assert status == 409 and "acme" in problem["detail"]
    status, problem, _ = await call(platform, "POST", "/api/v1/orgs", org["admin_api_key"], {"name": "mine"})
    assert status == 403 and "org:manage" in problem["detail"]
    status, problem, _ = await call(platform, "POST", "/api/v1/orgs", platform.admin_key, {"name": "x", "plan": "gold"})
    assert status == 422 and problem["errors"][0]["field"] == "plan"

    status, listed, _ = await call(platform, "GET", "/api/v1/orgs", platform.admin_key)
    assert {"acme", "beta"} <= {o["name"] for o in listed["orgs"]} and "admin_api_key" not in listed["orgs"][0]
    # the new org's admin sees only its own org's users and data; its plan travels with its requests
    status, datasets, _ = await call(platform, "GET", "/api/v1/datasets", org["admin_api_key"])
    assert status == 200 and datasets["total"] == 0


async def test_a_super_admin_acts_in_another_org_and_nobody_else_may(platform: Platform) -> None:
    _, org, _ = await call(platform, "POST", "/api/v1/orgs", platform.admin_key, {"name": "tenant"})
    inside = {"X-Modelyard-Org": org["id"]}
    status, made, _ = await call(
        platform, "POST", "/api/v1/datasets", platform.admin_key, {"name": "theirs", "task": "detect"}, headers=inside
    )
    assert status == 201
    _, theirs, _ = await call(platform, "GET", "/api/v1/datasets", org["admin_api_key"])
    assert [d["id"] for d in theirs["datasets"]] == [made["id"]]
    _, home, _ = await call(platform, "GET", "/api/v1/datasets", platform.admin_key)
    assert made["id"] not in {d["id"] for d in home["datasets"]}

    status, me, _ = await call(platform, "GET", "/api/v1/me", platform.admin_key, headers=inside)
    assert status == 200 and me["role"] == "super_admin" and me["org_id"] != org["id"]  # still the super admin
    status, problem, _ = await call(platform, "GET", "/api/v1/datasets", org["admin_api_key"], headers=inside)
    assert status == 403 and "super_admin" in problem["detail"]
    status, _, _ = await call(
        platform, "GET", "/api/v1/datasets", platform.admin_key, headers={"X-Modelyard-Org": str(uuid.uuid4())}
    )
    assert status == 404
    status, problem, _ = await call(
        platform, "GET", "/api/v1/datasets", platform.admin_key, headers={"X-Modelyard-Org": "acme"}
    )
    assert status == 422 and problem["errors"][0]["field"] == "X-Modelyard-Org"


async def test_scoped_keys_do_only_what_their_scopes_and_role_allow(platform: Platform) -> None:
    engineer = await platform.user_key(Role.ML_ENGINEER)
    status, key, headers = await call(
        platform, "POST", "/api/v1/keys", engineer, {"name": "ci reader", "scopes": ["model:read", "dataset:read"]}
    )
    assert status == 201 and headers["Cache-Control"] == "no-store"
    assert key["scopes"] == ["dataset:read", "model:read"] and key["expires_at"] is None
    reader = key["api_key"]
    assert (await call(platform, "GET", "/api/v1/models", reader))[0] == 200
    assert (await call(platform, "GET", "/api/v1/datasets", reader))[0] == 200
    status, problem, _ = await call(platform, "POST", "/api/v1/datasets", reader, {"name": "n", "task": "detect"})
    assert status == 403 and problem["detail"] == "this API key's scopes do not include dataset:manage"
    assert (await call(platform, "POST", "/api/v1/datasets", engineer, {"name": "n", "task": "detect"}))[0] == 201

    # a key never holds more than its owner: an engineer cannot mint an audit reader
    status, problem, _ = await call(platform, "POST", "/api/v1/keys", engineer, {"name": "x", "scopes": ["audit:read"]})
    assert (
        status == 422 and problem["errors"][0]["field"] == "scopes" and "audit:read" in problem["errors"][0]["message"]
    )
    status, problem, _ = await call(platform, "POST", "/api/v1/keys", engineer, {"name": "x", "scopes": ["fly"]})
    assert status == 422 and problem["errors"][0]["field"].startswith("scopes")
    # nor a scoped key more than its scopes
    status, problem, _ = await call(platform, "POST", "/api/v1/keys", reader, {"name": "x", "scopes": ["model:edit"]})
    assert status == 403 and "key:manage" in problem["detail"]

    # listing: mine only (no secrets); an admin sees the org's
    _, mine, _ = await call(platform, "GET", "/api/v1/keys", engineer)
    assert len(mine["keys"]) == 2 and all("api_key" not in k for k in mine["keys"])
    _, everyone, _ = await call(platform, "GET", "/api/v1/keys", platform.admin_key)
    assert {k["id"] for k in mine["keys"]} < {k["id"] for k in everyone["keys"]}


async def test_an_expired_key_is_refused_with_the_reason(platform: Platform) -> None:
    status, key, _ = await call(
        platform, "POST", "/api/v1/keys", platform.admin_key, {"name": "t", "expires_in_days": 1}
    )
    assert status == 201
    expires = datetime.fromisoformat(key["expires_at"])
    assert timedelta(hours=23) < expires - datetime.now(UTC) <= timedelta(days=1)
    conn = await asyncpg.connect(platform.database_url)
    try:
        await conn.execute(
            "UPDATE gateway.api_keys SET expires_at = now() - interval '1 second' WHERE id = $1", uuid.UUID(key["id"])
        )
    finally:
        await conn.close()
    status, problem, headers = await call(platform, "GET", "/api/v1/me", key["api_key"])
    assert status == 401 and "expired" in problem["detail"] and headers["WWW-Authenticate"].startswith("Bearer")


async def test_access_tokens_carry_the_key_and_die_with_it_on_every_replica(platform: Platform) -> None:
    async with (
        replica(platform, token_secret=SecretStr(SECRET)) as one,
        replica(platform, token_secret=SecretStr(SECRET)) as two,
    ):
        status, key, _ = await call(platform, "POST", "/api/v1/keys", platform.admin_key, {"name": "laptop"}, url=one)
        assert status == 201
        status, token, _ = await call(
            platform, "POST", "/api/v1/auth/token", key["api_key"], {"expires_in": 120}, url=one
        )
        assert status == 200 and token["token_type"] == "Bearer" and 110 <= token["expires_in"] <= 120
        assert "org:manage" in token["scopes"]
        access = token["access_token"]
        claims = jwt.decode(access, SECRET, algorithms=["HS256"], issuer="modelyard")
        assert claims["key"] == key["id"] and claims["role"] == "super_admin"
        # any replica with the secret accepts it, without a database lookup
        for url in (one, two):
            status, me, _ = await call(platform, "GET", "/api/v1/me", access, url=url)
            assert status == 200 and me["role"] == "super_admin"
        status, problem, _ = await call(platform, "POST", "/api/v1/auth/token", access, {}, url=two)
        assert status == 403 and "API key" in problem["detail"]
        forged = jwt.encode(
            claims | {"role": "super_admin", "exp": time.time() + 60},
            "another secret, just as long as the real one",
            "HS256",
        )
        assert (await call(platform, "GET", "/api/v1/me", forged, url=one))[0] == 401
        stale = jwt.encode(claims | {"exp": time.time() - 1}, SECRET, "HS256")
        status, problem, _ = await call(platform, "GET", "/api/v1/me", stale, url=one)
        assert status == 401 and "expired" in problem["detail"]

        # both replicas have the key cached; revoking it on one refuses key and token on both at once
        assert (await call(platform, "GET", "/api/v1/me", key["api_key"], url=two))[0] == 200
        status, revoked, _ = await call(platform, "DELETE", f"/api/v1/keys/{key['id']}", key["api_key"], url=one)
        assert status == 200 and revoked["revoked_at"] is not None
        deadline = time.monotonic() + 2.0  # a NATS notice: milliseconds, far below the 10 s key cache
        while (await call(platform, "GET", "/api/v1/me", key["api_key"], url=two))[0] != 401:
            assert time.monotonic() < deadline, "replica two still accepts a revoked key"
            await asyncio.sleep(0.02)
        for url in (one, two):
            status, problem, _ = await call(platform, "GET", "/api/v1/me", access, url=url)
            assert status == 401 and "revoked" in problem["detail"], problem
        # a replica that starts later refuses the token too (recent revocations come from the database)
        async with replica(platform, token_secret=SecretStr(SECRET)) as three:
            assert (await call(platform, "GET", "/api/v1/me", access, url=three))[0] == 401


async def test_only_admins_revoke_other_peoples_keys(platform: Platform) -> None:
    viewer = await platform.user_key(Role.VIEWER, "v")
    _, mine, _ = await call(platform, "GET", "/api/v1/keys", viewer)
    (own,) = mine["keys"]
    _, admin_keys, _ = await call(platform, "GET", "/api/v1/keys", platform.admin_key)
    admins = [k for k in admin_keys["keys"] if k["id"] != own["id"]]
    status, _, _ = await call(platform, "DELETE", f"/api/v1/keys/{admins[0]['id']}", viewer)
    assert status == 404  # not 403: another user's key is not the viewer's to know about
    status, _, _ = await call(platform, "DELETE", f"/api/v1/keys/{own['id']}", platform.admin_key)
    assert status == 200
    assert (await call(platform, "GET", "/api/v1/me", viewer))[0] == 401
    # the trail says who revoked whose key
    _, admin, _ = await call(platform, "GET", "/api/v1/me", platform.admin_key)
    deadline = time.monotonic() + 10
    while True:
        _, trail, _ = await call(
            platform, "GET", f"/api/v1/audit?action=api_key.revoked&resource_id={own['id']}", platform.admin_key
        )
        if trail["total"] or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.1)
    (entry,) = trail["events"]
    assert entry["actor"] == f"user:{admin['id']}" and entry["detail"]["user_id"] == own["user_id"]


async def test_a_key_past_its_plans_rate_gets_429_with_retry_after(platform: Platform) -> None:
    # the free plan: 50 requests a second, bursts of 200; scaled down to 1/s and bursts of 4 for this replica
    async with replica(platform, rate_limit_scale=0.02) as slow:
        statuses = []
        for _ in range(6):
            status, body, headers = await call(platform, "GET", "/api/v1/me", platform.admin_key, url=slow)
            statuses.append(status)
            if status == 429:
                assert int(headers["Retry-After"]) >= 1 and "free plan" in body["detail"]
                assert body["type"].endswith("rate-limited")
        assert statuses[:4] == [200] * 4 and 429 in statuses[4:]
        # another key has its own bucket
        _, key, _ = await call(platform, "POST", "/api/v1/keys", platform.admin_key, {"name": "other"})
        assert (await call(platform, "GET", "/api/v1/me", key["api_key"], url=slow))[0] == 200


async def test_tokens_survive_a_restart_with_a_secret_file(platform: Platform, tmp_path: Path) -> None:
    secret_file = tmp_path / "secrets" / "token-secret"
    async with replica(platform, token_secret_file=secret_file) as first:
        status, token, _ = await call(platform, "POST", "/api/v1/auth/token", platform.admin_key, {}, url=first)
        assert status == 200
    assert secret_file.stat().st_mode & 0o777 == 0o600 and len(secret_file.read_bytes()) >= 32
    async with replica(platform, token_secret_file=secret_file) as restarted:
        status, me, _ = await call(platform, "GET", "/api/v1/me", token["access_token"], url=restarted)
        assert status == 200 and me["role"] == "super_admin"
    async with replica(platform) as other:  # no shared secret: not valid there
        assert (await call(platform, "GET", "/api/v1/me", token["access_token"], url=other))[0] == 401
