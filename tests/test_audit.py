"""The audit trail end to end: state changes made through the API by several users reach the AUDIT stream through
each service's outbox, the gateway projects them, and `GET /api/v1/audit` answers them with the right actor,
canonical action, resource and correlation id; filters; admins only; one org never sees another's; a redelivered
record is stored once; `modelyard audit list --json` and the live tail read the same entries."""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
import uuid
from typing import Any

import nats
from typer.testing import CliRunner, Result

from modelyard.client.audit_cli import follow
from modelyard.client.cli import app
from modelyard.contracts.api.audit import AuditEvent, AuditList
from modelyard.contracts.api.identity import Role
from modelyard.contracts.envelope import MSG_ID_HEADER
from modelyard.contracts.events import AuditRecorded
from modelyard.gateway.repository import IdentityRepository
from modelyard.runtime.db import open_pool

from .conftest import Platform
from .registry_support import complete_job, registered

PROBLEM = "application/problem+json"


async def _audit(platform: Platform, key: str | None = None, **params: Any) -> tuple[int, Any]:
    query = {k: str(v) for k, v in params.items()}
    async with platform.http.get(f"{platform.url}/api/v1/audit", params=query, headers=platform.auth(key)) as r:
        return r.status, await r.json()


async def _page(platform: Platform, key: str | None = None, **params: Any) -> AuditList:
    status, body = await _audit(platform, key, **params)
    assert status == 200, body
    return AuditList.model_validate(body)


async def _eventually(
    platform: Platform, want: set[str], key: str | None = None, limit_s: float = 20, **params: Any
) -> AuditList:
    """Poll the trail until every correlation id in `want` is in it (the projection is asynchronous)."""
    deadline = time.monotonic() + limit_s
    while True:
        page = await _page(platform, key, limit=500, **params)
        if want <= {e.correlation_id for e in page.events}:
            return page
        if time.monotonic() > deadline:
            raise AssertionError(f"missing {want - {e.correlation_id for e in page.events}} in {page.events}")
        await asyncio.sleep(0.1)


async def _call(platform: Platform, method: str, path: str, key: str, cid: str, body: Any = None) -> Any:
    headers = platform.auth(key) | {"X-Correlation-Id": cid}
    async with platform.http.request(method, f"{platform.url}{path}", json=body, headers=headers) as r:
        assert r.status < 300, await r.text()
        return await r.json()


def _one(page: AuditList, correlation_id: str) -> AuditEvent:
    (entry,) = [e for e in page.events if e.correlation_id == correlation_id]
    return entry


async def test_state_changes_by_several_users_are_in_the_trail_with_filters_roles_and_org_scope(
    platform: Platform,
) -> None:
    async with platform.client() as api:
        admin = await api.me()
    ops = await _call(
        platform, "POST", "/api/v1/users", platform.admin_key, "a-user", {"name": "ops", "role": "org_admin"}
    )
    engineer = await _call(
        platform, "POST", "/api/v1/users", ops["api_key"], "a-user-2", {"name": "eng", "role": "ml_engineer"}
    )
    dataset = await _call(
        platform, "POST", "/api/v1/datasets", ops["api_key"], "a-create", {"name": "gate cams", "task": "detect"}
    )
    await _call(
        platform,
        "PATCH",
        f"/api/v1/datasets/{dataset['id']}",
        platform.admin_key,
        "a-update",
        {"description": "gate 3"},
    )
    data = b"not really a zip"
    upload = await _call(
        platform,
        "POST",
        "/api/v1/uploads",
        engineer["api_key"],
        "a-upload",
        {
            "dataset_id": dataset["id"],
            "filename": "cams.zip",
            "kind": "yolo_zip",
            "size": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
        },
    )

    page = await _eventually(platform, {"a-user", "a-user-2", "a-create", "a-update", "a-upload"})
    by_admin, by_ops, by_engineer = f"user:{admin.id}", f"user:{ops['id']}", f"user:{engineer['id']}"
    expected = {
        "a-user": (by_admin, "user.created", "gateway", "user", ops["id"]),
        "a-user-2": (by_ops, "user.created", "gateway", "user", engineer["id"]),
        "a-create": (by_ops, "dataset.created", "dataset", "dataset", dataset["id"]),
        "a-update": (by_admin, "dataset.updated", "dataset", "dataset", dataset["id"]),
        "a-upload": (by_engineer, "upload.created", "dataset", "upload", upload["id"]),
    }
    for cid, (actor, action, service, resource_type, resource_id) in expected.items():
        entry = _one(page, cid)
        assert (entry.actor, entry.action, entry.service) == (actor, action, service), entry
        assert (entry.resource_type, entry.resource_id, entry.org_id) == (resource_type, resource_id, admin.org_id)
    assert _one(page, "a-create").detail == {"name": "gate cams"} and _one(page, "a-create").summary == "name=gate cams"
    assert _one(page, "a-update").detail == {"changed": ["description"]}
    assert _one(page, "a-user").detail == {"name": "ops", "role": "org_admin"}
    # newest first; the bootstrap's super admin is in it too, created by the bootstrap
    times = [e.occurred_at for e in page.events]
    assert times == sorted(times, reverse=True)
    assert any(e.action == "user.created" and e.actor == "service:bootstrap" for e in page.events)
    assert page.total == len(page.events)

    # filters: actor, action exact and by prefix, resource, since / until, paging
    mine = await _page(platform, actor=by_ops)
    assert {e.correlation_id for e in mine.events} == {"a-user-2", "a-create"} and mine.total == 2
    datasets = await _page(platform, action="dataset.*")
    assert [e.correlation_id for e in datasets.events] == ["a-update", "a-create"]
    assert {e.correlation_id for e in (await _page(platform, action="dataset.created")).events} == {"a-create"}
    assert (await _page(platform, action="dataset.")).total == 0  # no wildcard: exact
    assert (await _page(platform, action="*")).total == page.total
    on_dataset = await _page(platform, resource_type="dataset", resource_id=dataset["id"])
    assert {e.correlation_id for e in on_dataset.events} == {"a-create", "a-update"}
    updated_at = _one(page, "a-update").occurred_at
    since = await _page(platform, since=updated_at.isoformat())
    assert {e.correlation_id for e in since.events} == {"a-update", "a-upload"}
    until = await _page(platform, until=updated_at.isoformat(), action="dataset.*")
    assert {e.correlation_id for e in until.events} == {"a-create"}
    # an unencoded + in the offset arrives as a space: still understood
    raw = f"{platform.url}/api/v1/audit?since={updated_at.isoformat()}"
    assert "+00:00" in raw
    async with platform.http.get(raw, headers=platform.auth()) as r:
        assert r.status == 200 and (await r.json())["total"] == 2
    first, second = await _page(platform, limit=1), await _page(platform, limit=1, offset=1)
    assert [first.events[0], second.events[0]] == page.events[:2] and first.total == page.total

    # the org_admin reads it too; every other role gets a 403 problem
    assert (await _page(platform, ops["api_key"], actor=by_engineer)).total == 1
    for role in (Role.ANNOTATOR, Role.VIEWER, Role.ML_ENGINEER):
        status, problem = await _audit(platform, await platform.user_key(role))
        assert status == 403 and problem["status"] == 403 and problem["correlation_id"], problem

    # another organisation sees its own trail, none of this one's
    async with open_pool(platform.database_url, "gateway") as pool:
        repo = IdentityRepository(pool)
        other_org = await repo.ensure_org("other")
        eve = await repo.create_user(other_org, "eve", Role.ORG_ADMIN, actor="service:test", correlation_id="o-user")
    theirs = await _eventually(platform, {"o-user"}, eve.api_key)
    assert [(e.action, e.resource_id, e.org_id) for e in theirs.events] == [("user.created", str(eve.id), other_org)]
    assert (await _page(platform, eve.api_key, actor=by_ops)).total == 0
    assert "o-user" not in {e.correlation_id for e in (await _page(platform, limit=500)).events}


async def test_a_registry_refusal_is_in_the_trail(platform: Platform) -> None:
    model = await registered(platform, (await complete_job(platform)).job_id)
    viewer = await platform.user_key(Role.VIEWER, "vic")
    async with platform.client(viewer) as api:
        vic = await api.me()
    headers = platform.auth(viewer) | {"X-Correlation-Id": "a-refused"}
    url = f"{platform.url}/api/v1/models/{model.id}/approve"
    async with platform.http.post(url, json={"reason": "looks fine"}, headers=headers) as r:
        assert r.status == 403 and r.content_type == PROBLEM

    page = await _eventually(platform, {"a-refused"}, action="model.*")
    refused = _one(page, "a-refused")
    assert (refused.actor, refused.action, refused.service) == (f"user:{vic.id}", "model.approve.refused", "registry")
    assert (refused.resource_type, refused.resource_id) == ("model", str(model.id))
    assert refused.detail["status"] == 403 and "status=403" in refused.summary
    deadline = time.monotonic() + 20
    while "model.registered" not in {e.action for e in page.events}:
        assert time.monotonic() < deadline, page.events
        await asyncio.sleep(0.1)
        page = await _page(platform, action="model.*")
    assert {e.action for e in page.events} == {"model.registered", "model.approve.refused"}


async def test_a_redelivered_record_is_stored_once(platform: Platform) -> None:
    async with platform.client() as api:
        me = await api.me()
    record = AuditRecorded(
        correlation_id="a-twice",
        org_id=me.org_id,
        actor=f"user:{me.id}",
        service="dataset",
        action="sample_deleted",
        resource_type="sample",
        resource_id=str(uuid.uuid4()),
        detail={"dataset_id": "d"},
    )
    marker = AuditRecorded(
        correlation_id="a-marker",
        org_id=me.org_id,
        actor=f"user:{me.id}",
        service="dataset",
        action="created",
        resource_type="dataset",
        resource_id="m",
    )
    nc = await nats.connect(platform.nats_url)
    try:
        js = nc.jetstream()
        await js.publish(record.nats_subject, record.encode(), headers=record.headers())
        # a second copy under another message id passes JetStream's dedup, as a DLQ replay or a republish would
        again = record.headers() | {MSG_ID_HEADER: f"{record.event_id}:again"}
        await js.publish(record.nats_subject, record.encode(), headers=again)
        await js.publish(marker.nats_subject, marker.encode(), headers=marker.headers())
    finally:
        await nc.close()
    await _eventually(platform, {"a-twice", "a-marker"})  # one consumer, in order: the copy came before the marker
    stored = await _page(platform, resource_id=record.resource_id)
    assert stored.total == 1 and stored.events[0].event_id == record.event_id
    assert stored.events[0].action == "sample.deleted"
    async with open_pool(platform.database_url, "gateway") as pool:
        assert await pool.fetchval("SELECT count(*) FROM audit_events WHERE event_id = $1", record.event_id) == 1


async def test_bad_filters_are_422_problems(platform: Platform) -> None:
    for params, field in (({"action": "mo*del"}, "action"), ({"since": "yesterday"}, "since"), ({"limit": 0}, "limit")):
        status, problem = await _audit(platform, **params)
        assert status == 422 and field in [e["field"] for e in problem["errors"]], problem
    status, problem = await _audit(platform, colour="red")
    assert status == 422 and problem["errors"][0]["field"] == "colour"


async def _cli(platform: Platform, *args: str) -> Result:
    env = {
        "MODELYARD_GATEWAY_URL": platform.url,
        "MODELYARD_NATS_URL": platform.nats_url,
        "MODELYARD_TOKEN": platform.admin_key,
        "COLUMNS": "200",
    }
    result: Result = await asyncio.to_thread(CliRunner().invoke, app, list(args), env=env)
    return result


async def test_cli_audit_list_json_and_the_live_tail(platform: Platform) -> None:
    dataset = await _call(
        platform, "POST", "/api/v1/datasets", platform.admin_key, "a-cli", {"name": "cli cams", "task": "classify"}
    )
    await _eventually(platform, {"a-cli"})

    listed = await _cli(platform, "audit", "list", "--json", "--action", "dataset.*", "--since", "1h")
    assert listed.exit_code == 0, listed.output
    page = AuditList.model_validate(json.loads(listed.stdout))
    assert page.total == 1 and page.events[0].resource_id == dataset["id"]
    assert page.events[0].correlation_id == "a-cli" and page.events[0].action == "dataset.created"

    table = await _cli(platform, "audit", "list", "--limit", "5")
    assert table.exit_code == 0, table.output
    assert "dataset.created" in table.stdout and "audit events" in table.stdout

    later = await _cli(platform, "audit", "list", "--json", "--since", "2999-01-01T00:00:00")
    assert json.loads(later.stdout) == {"events": [], "total": 0}
    bad = await _cli(platform, "audit", "list", "--since", "soon")
    assert bad.exit_code == 2 and "span" in bad.output

    tailed = [e async for e in follow(platform.nats_url, "dataset.*", from_start=True, limit=1)]
    assert [(e.action, e.resource_id, e.correlation_id) for e in tailed] == [
        ("dataset.created", dataset["id"], "a-cli")
    ]
    lines = await _cli(platform, "audit", "tail", "--from-start", "--limit", "1", "--action", "dataset.*", "--json")
    assert lines.exit_code == 0, lines.output
    assert AuditEvent.model_validate_json(lines.stdout).resource_id == dataset["id"]
