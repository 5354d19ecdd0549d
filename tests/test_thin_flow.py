"""The thin flow through the whole spine: HTTP → gateway → NATS request/reply → dataset service → PostgreSQL row
and DatasetCreated through the outbox onto the DATASETS stream."""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path

import aiohttp
import asyncpg
import nats
import pytest
from aiohttp import web

from modelyard.contracts.api.identity import Role
from modelyard.contracts.envelope import decode
from modelyard.contracts.events import DatasetCreated
from modelyard.embedded.ports import free_port
from modelyard.gateway.app import create_app
from modelyard.gateway.bootstrap import bootstrap
from modelyard.gateway.repository import IdentityRepository
from modelyard.gateway.settings import Settings as GatewaySettings
from modelyard.runtime.db import open_pool

from .conftest import Platform

PROBLEM = "application/problem+json"


async def _next_dataset_event(nats_url: str) -> DatasetCreated:
    nc = await nats.connect(nats_url)
    try:
        sub = await nc.jetstream().subscribe("dataset.>", ordered_consumer=True)
        msg = await sub.next_msg(timeout=10)
        event = decode(msg.data)
        assert isinstance(event, DatasetCreated)
        assert msg.headers is not None and msg.headers["Nats-Msg-Id"] == str(event.event_id)
        return event
    finally:
        await nc.close()


async def test_health_and_version_need_no_key(platform: Platform) -> None:
    async with platform.http.get(f"{platform.url}/healthz") as r:
        assert r.status == 200
        assert (await r.json())["checks"] == {"nats": "ok", "postgres": "ok"}
    async with platform.http.get(f"{platform.url}/api/v1/version") as r:
        assert r.status == 200 and (await r.json())["api"] == "v1"


async def test_create_then_get_dataset_and_its_event_reaches_the_stream(platform: Platform) -> None:
    body = {"name": "parking-lot cars", "task": "detect", "ai_module": "vehicles", "description": "cam 3"}
    headers = platform.auth() | {"X-Correlation-Id": "demo-123"}
    async with platform.http.post(f"{platform.url}/api/v1/datasets", json=body, headers=headers) as r:
        assert r.status == 201, await r.text()
        created = await r.json()
        assert r.headers["Location"] == f"/api/v1/datasets/{created['id']}"
        assert r.headers["X-Correlation-Id"] == "demo-123"
    assert created["name"] == "parking-lot cars" and created["task"] == "detect" and created["status"] == "draft"
    async with platform.http.get(f"{platform.url}/api/v1/datasets/{created['id']}", headers=platform.auth()) as r:
        assert r.status == 200
        assert await r.json() == created
    event = await _next_dataset_event(platform.nats_url)
    assert str(event.dataset_id) == created["id"]
    assert str(event.org_id) == created["org_id"]
    assert event.correlation_id == "demo-123"
    assert event.actor == created["created_by"]


async def test_no_key_or_unknown_key_gets_401_problem(platform: Platform) -> None:
    for headers in ({}, {"Authorization": "Bearer myk_nope_nope_nope_nope_nope"}, {"Authorization": "Basic x"}):
        async with platform.http.post(f"{platform.url}/api/v1/datasets", json={}, headers=headers) as r:
            assert r.status == 401
            assert r.content_type == PROBLEM
            assert r.headers["WWW-Authenticate"].startswith("Bearer")
            problem = await r.json()
            assert problem["status"] == 401 and problem["correlation_id"]


@pytest.mark.parametrize(
    ("raw", "status", "field"),
    [
        (b'{"name": "x", "task": ', 400, None),  # malformed JSON
        (b"[1, 2]", 400, None),  # not an object
        (b'{"name": "", "task": "detect"}', 422, "name"),
        (b'{"name": "   ", "task": "detect"}', 422, "name"),
        (b'{"name": "x", "task": "juggle"}', 422, "task"),
        (b'{"task": "detect"}', 422, "name"),
        (b'{"name": "x", "task": "detect", "colour": "red"}', 422, "colour"),
    ],
)
async def test_bad_dataset_input_gets_problem_details_naming_the_field(
    platform: Platform, raw: bytes, status: int, field: str | None
) -> None:
    headers = platform.auth() | {"Content-Type": "application/json"}
    async with platform.http.post(f"{platform.url}/api/v1/datasets", data=raw, headers=headers) as r:
        assert r.status == status
        assert r.content_type == PROBLEM
        problem = await r.json()
    assert problem["status"] == status and problem["title"] and problem["type"].startswith("https://")
    assert problem["correlation_id"]
    assert "Traceback" not in str(problem)
    if field:
        assert field in [e["field"] for e in problem["errors"]]
    async with open_pool(platform.database_url, "dataset") as pool:
        assert await pool.fetchval("SELECT count(*) FROM datasets") == 0


async def test_duplicate_name_in_one_org_is_a_conflict(platform: Platform) -> None:
    body = {"name": "Same", "task": "classify"}
    async with platform.http.post(f"{platform.url}/api/v1/datasets", json=body, headers=platform.auth()) as r:
        assert r.status == 201
    async with platform.http.post(
        f"{platform.url}/api/v1/datasets", json={**body, "name": "same"}, headers=platform.auth()
    ) as r:
        assert r.status == 409
        assert (await r.json())["type"].endswith("dataset-name-taken")


async def test_unknown_or_malformed_dataset_id(platform: Platform) -> None:
    async with platform.http.get(f"{platform.url}/api/v1/datasets/{uuid.uuid4()}", headers=platform.auth()) as r:
        assert r.status == 404 and r.content_type == PROBLEM
    async with platform.http.get(f"{platform.url}/api/v1/datasets/not-a-uuid", headers=platform.auth()) as r:
        assert r.status == 422 and (await r.json())["errors"][0]["field"] == "id"
    async with platform.http.get(f"{platform.url}/api/v1/nothing-here", headers=platform.auth()) as r:
        assert r.status == 404 and r.content_type == PROBLEM


async def test_another_organisation_cannot_see_the_dataset(platform: Platform) -> None:
    async with platform.http.post(
        f"{platform.url}/api/v1/datasets", json={"name": "private", "task": "detect"}, headers=platform.auth()
    ) as r:
        dataset_id = (await r.json())["id"]
    async with open_pool(platform.database_url, "gateway") as pool:
        repo = IdentityRepository(pool)
        other_org = await repo.ensure_org("other")
        other = await repo.create_user(other_org, "eve", Role.ORG_ADMIN, actor="test", correlation_id="t")
    async with platform.http.get(
        f"{platform.url}/api/v1/datasets/{dataset_id}", headers=platform.auth(other.api_key)
    ) as r:
        assert r.status == 404


async def test_admin_creates_a_user_whose_key_is_shown_once_and_stored_hashed(platform: Platform) -> None:
    async with platform.http.post(
        f"{platform.url}/api/v1/users", json={"name": "ann", "role": "annotator"}, headers=platform.auth()
    ) as r:
        assert r.status == 201
        assert r.headers["Cache-Control"] == "no-store"
        user = await r.json()
    key = user["api_key"]
    async with platform.http.get(f"{platform.url}/api/v1/me", headers=platform.auth(key)) as r:
        me = await r.json()
        assert me["name"] == "ann" and me["role"] == "annotator" and "api_key" not in me
    conn = await asyncpg.connect(platform.database_url)
    try:
        stored = await conn.fetch("SELECT key_sha256, prefix FROM gateway.api_keys")
        assert all(key not in (row["key_sha256"], row["prefix"]) for row in stored)
    finally:
        await conn.close()
    # a non-admin may not create users
    async with platform.http.post(
        f"{platform.url}/api/v1/users", json={"name": "x", "role": "viewer"}, headers=platform.auth(key)
    ) as r:
        assert r.status == 403 and r.content_type == PROBLEM


async def test_org_admin_cannot_mint_a_super_admin(platform: Platform) -> None:
    async with platform.http.post(
        f"{platform.url}/api/v1/users", json={"name": "oa", "role": "org_admin"}, headers=platform.auth()
    ) as r:
        org_admin_key = (await r.json())["api_key"]
    async with platform.http.post(
        f"{platform.url}/api/v1/users",
        json={"name": "boss", "role": "super_admin"},
        headers=platform.auth(org_admin_key),
    ) as r:
        assert r.status == 403
    async with platform.http.post(
        f"{platform.url}/api/v1/users", json={"name": "v", "role": "root"}, headers=platform.auth(org_admin_key)
    ) as r:
        assert r.status == 422 and (await r.json())["errors"][0]["field"] == "role"


async def test_dataset_service_down_gives_503_problem_not_a_hang(
    database_url: str, nats_url: str, tmp_path: Path
) -> None:
    settings = GatewaySettings(nats_url=nats_url, database_url=database_url, port=free_port(), request_timeout_s=2)
    key, _ = await bootstrap(settings, "default", tmp_path / "token")
    runner = web.AppRunner(create_app(settings))  # the gateway alone: no dataset service answers
    await runner.setup()
    await web.TCPSite(runner, settings.host, settings.port).start()
    try:
        async with aiohttp.ClientSession() as http:
            started = time.monotonic()
            async with http.post(
                f"http://{settings.host}:{settings.port}/api/v1/datasets",
                json={"name": "n", "task": "detect"},
                headers={"Authorization": f"Bearer {key}"},
            ) as r:
                assert r.status == 503 and r.content_type == PROBLEM
                assert "dataset" in (await r.json())["detail"]
            assert time.monotonic() - started < 5
    finally:
        await runner.cleanup()


async def test_metrics_show_the_outbox_and_the_jobs_by_state(platform: Platform) -> None:
    async with platform.http.post(
        f"{platform.url}/api/v1/users", json={"name": "m", "role": "viewer"}, headers=platform.auth()
    ) as r:
        assert r.status == 201
    deadline = time.monotonic() + 15
    text = ""
    while time.monotonic() < deadline:
        async with platform.http.get(f"{platform.url}/metrics") as r:
            assert r.status == 200 and r.content_type == "text/plain"
            text = await r.text()
        if 'modelyard_outbox_published_total{schema="gateway"}' in text and 'modelyard_jobs{state="running"}' in text:
            break
        await asyncio.sleep(0.2)
    assert 'modelyard_outbox_published_total{schema="gateway"}' in text
    assert 'modelyard_jobs{state="running"}' in text and 'modelyard_deployments{state="rolling"}' in text
    assert "modelyard_outbox_lag_seconds" in text and "modelyard_event_handler_seconds" in text
