"""The audit trail end to end: state changes made through the API by several users reach the AUDIT stream through
each service's outbox, the gateway projects them, and `GET /api/v1/audit` answers them with the right actor,
canonical action, resource and correlation id; filters; admins only; one org never sees another's; a redelivered
record is stored once; `modelyard audit list --json` and the live tail read the same entries. A realistic sequence
from dataset to cancelled job leaves one entry per state change, by its real actor (the user for API calls, the
trainer for its claims and reports, the service for its own timers), and the gateway audits the organisations and
keys it creates."""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import nats
from typer.testing import CliRunner, Result

from modelyard.client import synthetic
from modelyard.client.audit_cli import follow
from modelyard.client.cli import app
from modelyard.client.uploader import upload_file
from modelyard.contracts.api.audit import AuditEvent, AuditList
from modelyard.contracts.api.datasets import DatasetCreate, Task
from modelyard.contracts.api.identity import Role
from modelyard.contracts.api.training import ConfigMode, JobCreate, JobStatus, Pool, Priority
from modelyard.contracts.api.uploads import UploadCreate, UploadKind, UploadState
from modelyard.contracts.envelope import MSG_ID_HEADER, Event
from modelyard.contracts.events import (
    AuditRecorded,
    JobDispatched,
    TrainingCancelled,
    TrainingFailed,
    TrainingStarted,
)
from modelyard.dataset.deps import Deps
from modelyard.dataset.sweeper import expire_uploads
from modelyard.gateway.bootstrap import bootstrap
from modelyard.gateway.repository import IdentityRepository
from modelyard.runtime.db import open_pool
from modelyard.scheduler.lost import fail_lost_job
from modelyard.trainer.claims import claim

from .conftest import Platform
from .edge_support import FakeDevice, enroll, fail, fake_devices, released_model, succeed, wait_deployment
from .registry_support import complete_job, registered
from .training_support import FAST, published_version, submit

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
        other_org = await repo.ensure_org("other", actor="service:test", correlation_id="o-org")
        eve = await repo.create_user(other_org, "eve", Role.ORG_ADMIN, actor="service:test", correlation_id="o-user")
    theirs = await _eventually(platform, {"o-org", "o-user"}, eve.api_key)
    assert [(e.action, e.resource_id, e.org_id) for e in theirs.events] == [
        ("user.created", str(eve.id), other_org),
        ("org.created", str(other_org), other_org),
    ]
    assert _one(theirs, "o-org").actor == "service:test" and _one(theirs, "o-org").detail["name"] == "other"
    assert (await _page(platform, eve.api_key, actor=by_ops)).total == 0
    assert "o-user" not in {e.correlation_id for e in (await _page(platform, limit=500)).events}


async def test_a_registry_refusal_is_in_the_trail(platform: Platform) -> None:
    """The gateway lets an admin ask (the role may approve); the registry refuses (four eyes: the admin submitted
    the job) and records the attempt. A role without the permission is refused by the gateway before any service
    hears of it: nothing changed, so nothing is recorded (tests/test_access_matrix.py)."""
    model = await registered(platform, (await complete_job(platform)).job_id)  # submitted by the super admin
    async with platform.client() as api:
        admin = await api.me()
    headers = platform.auth() | {"X-Correlation-Id": "a-refused"}
    url = f"{platform.url}/api/v1/models/{model.id}/approve"
    async with platform.http.post(url, json={"reason": "looks fine"}, headers=headers) as r:
        assert r.status == 403 and r.content_type == PROBLEM and "four eyes" in (await r.json())["detail"]

    page = await _eventually(platform, {"a-refused"}, action="model.*")
    refused = _one(page, "a-refused")
    assert (refused.actor, refused.action, refused.service) == (f"user:{admin.id}", "model.approve.refused", "registry")
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


async def _trail(
    platform: Platform, want: set[tuple[str, str]], limit_s: float = 30, **params: Any
) -> dict[tuple[str, str], list[AuditEvent]]:
    """Poll the trail until each (action, resource_id) in `want` is in it; the entries by (action, resource_id)."""
    deadline = time.monotonic() + limit_s
    while True:
        page = await _page(platform, limit=500, **params)
        found: dict[tuple[str, str], list[AuditEvent]] = {}
        for entry in page.events:
            found.setdefault((entry.action, entry.resource_id), []).append(entry)
        if want <= set(found):
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"missing {want - set(found)} in {sorted(found)}")
        await asyncio.sleep(0.1)


async def test_every_state_change_from_dataset_to_cancelled_job_is_in_the_trail_with_its_actor(
    platform: Platform, tmp_path: Path
) -> None:
    """A realistic sequence through the API, by an engineer and a reviewer (no training): each state change it made
    is one entry, by the user who made it, or by the service for what the service did on its own."""
    async with platform.client() as api:
        admin = await api.me()
        engineer = await api.create_user("eng", Role.ML_ENGINEER)
        reviewer = await api.create_user("rev", Role.REVIEWER)
    by_admin, by_eng, by_rev = f"user:{admin.id}", f"user:{engineer.id}", f"user:{reviewer.id}"
    archive = synthetic.detect_zip(tmp_path / "yard.zip", train=4, val=1)
    async with platform.client(engineer.api_key) as api:
        dataset = await api.create_dataset(DatasetCreate(name="yard cams", task=Task.DETECT))
        upload = await upload_file(api, archive, dataset.id, UploadKind.YOLO_ZIP)
        done = await api.wait_upload(upload.id)
        assert done.state is UploadState.COMPLETED, done.problems
        first, second = (await api.list_samples(dataset.id, limit=100)).samples[:2]
        split = "train" if first.split is not None and first.split.value == "val" else "val"
        await api.label_sample(dataset.id, first.id, split=split)
        picks = await api.create_dataset(DatasetCreate(name="yard picks", task=Task.DETECT))
    # the same image, added by hand to another dataset of the org
    added = await _call(
        platform, "POST", f"/api/v1/datasets/{picks.id}/samples", engineer.api_key, "s-add", {"sha256": first.sha256}
    )
    async with platform.client(reviewer.api_key) as api:
        await api.review_sample(dataset.id, second.id, "approve")
    data = b"never sent"
    spec = UploadCreate(
        dataset_id=dataset.id,
        filename="later.zip",
        kind=UploadKind.YOLO_ZIP,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
    )
    async with platform.client(engineer.api_key) as api:
        aborted = await api.create_upload(spec)
        await api.abort_upload(aborted.id)
        lapsed = await api.create_upload(spec)
    async with open_pool(platform.database_url, "dataset") as pool:
        from modelyard.dataset.app import object_store

        deps = Deps(platform.dataset_settings, pool, object_store(platform.dataset_settings))
        assert await expire_uploads(deps, datetime.now(UTC) + timedelta(days=2)) == 1
    async with platform.client(engineer.api_key) as api:
        version = await api.publish_version(dataset.id, include="all")
        job = await api.create_job(
            JobCreate(
                name="yard-yolo",
                dataset_id=dataset.id,
                dataset_version=version.version,
                mode=ConfigMode.DEVELOPER,
                overrides=FAST,
            )
        )
        assert job.status is JobStatus.QUEUED  # no trainer: it waits in the queue
        cancelled = await api.cancel_job(job.id)
        assert cancelled.status is JobStatus.CANCELLED

    expected = [
        ("user.created", "user", engineer.id, by_admin, "gateway"),
        ("user.created", "user", reviewer.id, by_admin, "gateway"),
        ("dataset.created", "dataset", dataset.id, by_eng, "dataset"),
        ("upload.created", "upload", upload.id, by_eng, "dataset"),
        ("upload.finalized", "upload", upload.id, by_eng, "dataset"),
        ("sample.updated", "sample", first.id, by_eng, "dataset"),
        ("dataset.created", "dataset", picks.id, by_eng, "dataset"),
        ("sample.added", "sample", added["id"], by_eng, "dataset"),
        ("sample.reviewed", "sample", second.id, by_rev, "dataset"),
        ("upload.created", "upload", aborted.id, by_eng, "dataset"),
        ("upload.aborted", "upload", aborted.id, by_eng, "dataset"),
        ("upload.created", "upload", lapsed.id, by_eng, "dataset"),
        ("upload.expired", "upload", lapsed.id, "service:dataset", "dataset"),
        ("dataset_version.published", "dataset_version", f"{dataset.id}:{version.version}", by_eng, "dataset"),
        ("job.submitted", "job", job.id, by_eng, "scheduler"),
        ("job.cancelled", "job", job.id, by_eng, "scheduler"),
    ]
    trail = await _trail(platform, {(action, str(rid)) for action, _, rid, _, _ in expected})
    for action, resource_type, resource_id, actor, service in expected:
        (entry,) = trail[(action, str(resource_id))]
        assert (entry.actor, entry.service, entry.resource_type) == (actor, service, resource_type), entry
        assert entry.org_id == admin.org_id and entry.correlation_id, entry

    def detail(action: str, resource_id: object) -> dict[str, Any]:
        return trail[(action, str(resource_id))][0].detail

    assert detail("upload.finalized", upload.id) == {
        "dataset_id": str(dataset.id),
        "size": archive.stat().st_size,
        "kind": "yolo_zip",
    }
    assert detail("sample.updated", first.id)["changed"] == ["split"]
    assert detail("sample.added", added["id"])["dataset_id"] == str(picks.id)
    assert detail("sample.reviewed", second.id) | {"reason": None} == {
        "dataset_id": str(dataset.id),
        "decision": "approve",
        "status": "verified",
        "reason": None,
    }
    assert detail("upload.aborted", aborted.id)["received_chunks"] == 0
    assert detail("upload.expired", lapsed.id)["received_chunks"] == 0
    assert detail("job.cancelled", job.id)["previous"] == "queued"
    # one entry per fact: the submission is not counted again as its dispatch, nor the cancel as a second record
    on_job = await _page(platform, resource_type="job", resource_id=str(job.id))
    assert [e.action for e in on_job.events] == ["job.cancelled", "job.submitted"]


async def _claim(platform: Platform, job_id: UUID, trainer_id: str) -> int:
    nc = await nats.connect(platform.nats_url)
    try:
        return (await claim(nc, job_id, trainer_id, delivery=1)).attempt
    finally:
        await nc.close()


async def _report(*events: Event, url: str) -> None:
    nc = await nats.connect(url)
    try:
        for event in events:
            await nc.jetstream().publish(event.nats_subject, event.encode(), headers=event.headers())
    finally:
        await nc.close()


async def test_job_changes_made_by_trainers_and_by_the_scheduler_are_in_the_trail_by_who_made_them(
    platform: Platform, tmp_path: Path
) -> None:
    """A trainer's claim and reports, the scheduler's retry and a lost job, played without training: each change of
    the job is one `job.<status>` entry, by the trainer whose claim or report made it, by the scheduler for its own
    timers, by the user for their cancel request."""
    dataset_id, version = await published_version(platform, tmp_path)
    async with platform.client() as api:
        me = await api.me()
    by_admin = f"user:{me.id}"
    job_id = UUID((await submit(platform, dataset_id, version))["id"])
    common: dict[str, Any] = {"org_id": me.org_id, "job_id": job_id}

    def by(trainer: str) -> dict[str, Any]:
        return common | {"correlation_id": f"job-{job_id}", "actor": f"service:trainer:{trainer}"}

    assert await _claim(platform, job_id, "t1") == 1
    await _report(
        TrainingStarted(**by("t1"), attempt=1, trainer_id="t1", total_epochs=2),  # already running: no news
        TrainingFailed(**by("t1"), attempt=1, error="CUDA hiccup", retryable=True),
        url=platform.nats_url,
    )
    # the failure queues it for a retry; the scheduler's retry timer dispatches it again
    first = await _trail(platform, {("job.queued", str(job_id)), ("job.dispatched", str(job_id))}, resource_type="job")
    assert await _claim(platform, job_id, "t2") == 2
    async with platform.client() as api:
        await api.cancel_job(job_id)  # running: the user asks, the trainer stops and reports it
    await _report(TrainingCancelled(**by("t2"), attempt=2), url=platform.nats_url)
    trail = await _trail(platform, {("job.cancelled", str(job_id))}, resource_type="job")
    entries = sorted(
        (e for e in (await _page(platform, resource_id=str(job_id), limit=100)).events), key=lambda e: e.occurred_at
    )
    assert [(e.action, e.actor) for e in entries] == [
        ("job.submitted", by_admin),
        ("job.running", "service:trainer:t1"),
        ("job.queued", "service:trainer:t1"),
        ("job.dispatched", "service:scheduler"),
        ("job.running", "service:trainer:t2"),
        ("job.cancel_requested", by_admin),
        ("job.cancelled", "service:trainer:t2"),
    ]
    assert all(e.org_id == me.org_id and e.service == "scheduler" for e in entries)
    running_1, queued, dispatched, running_2 = entries[1:5]
    assert running_1.detail == {"previous": "queued", "attempt": 1, "trainer_id": "t1"}
    assert queued.detail["failures"] == 1 and queued.detail["error"] == "CUDA hiccup" and queued.detail["retry_at"]
    assert queued.correlation_id == f"job-{job_id}"  # the report's conversation
    assert dispatched.detail["dispatch"] == 2 and dispatched.detail["previous"] == "queued"
    assert running_2.detail["attempt"] == 2 and running_2.detail["trainer_id"] == "t2"
    assert trail[("job.cancelled", str(job_id))][0].detail["previous"] == "running"
    assert first[("job.queued", str(job_id))][0].event_id == queued.event_id

    # a job whose every trainer died with it: the scheduler fails it, on its own
    lost_id = UUID((await submit(platform, dataset_id, version))["id"])
    assert await _claim(platform, lost_id, "t3") == 1
    assert platform.scheduler is not None
    dispatched_event = JobDispatched(
        correlation_id=f"lost-{lost_id}",
        org_id=me.org_id,
        actor="service:scheduler",
        job_id=lost_id,
        pool=Pool.CPU,
        priority=Priority.NORMAL,
        dispatch=1,
    )
    assert await fail_lost_job(platform.scheduler, dispatched_event, deliveries=3)
    lost = (await _trail(platform, {("job.failed", str(lost_id))}))[("job.failed", str(lost_id))]
    assert [(e.actor, e.correlation_id) for e in lost] == [("service:scheduler", f"lost-{lost_id}")]
    assert "no trainer finished the job" in lost[0].detail["error"] and lost[0].detail["previous"] == "running"


async def test_the_gateway_audits_the_organisation_and_the_keys_it_creates(platform: Platform, tmp_path: Path) -> None:
    async with platform.client() as api:
        me = await api.me()
    found = await _trail(platform, {("org.created", str(me.org_id))})
    (org,) = found[("org.created", str(me.org_id))]
    assert (org.actor, org.service, org.resource_type, org.org_id) == ("service:bootstrap", "gateway", "org", me.org_id)
    assert org.detail == {"name": "default", "plan": "free"}

    # the bootstrap again, its token file lost: a new key for the same admin, audited; the org exists already
    key, new = await bootstrap(platform.gateway_settings, "default", tmp_path / "lost" / "admin-token")
    assert new and key != platform.admin_key
    async with platform.client(key) as api:
        assert (await api.me()).id == me.id
    deadline = time.monotonic() + 20
    while not (issued := await _page(platform, action="api_key.*")).events:
        assert time.monotonic() < deadline, "no api_key.issued entry"
        await asyncio.sleep(0.1)
    (entry,) = issued.events
    assert entry.action == "api_key.issued"
    assert (entry.actor, entry.service, entry.resource_type) == ("service:bootstrap", "gateway", "api_key")
    assert entry.detail["user_id"] == str(me.id) and key.startswith(f"myk_{entry.detail['prefix']}_")
    assert key not in json.dumps(entry.detail) and entry.org_id == me.org_id
    orgs = await _page(platform, action="org.created")
    assert orgs.total == 1  # ensure_org on an existing organisation records nothing


async def test_each_send_of_a_deployment_to_a_device_is_in_the_trail(platform: Platform) -> None:
    model = await released_model(platform)
    answers = iter([fail("http"), succeed])
    device = FakeDevice(await enroll(platform, "flaky"), lambda m: next(answers)(m))
    device_id = str(device.enrolled.device_id)
    async with fake_devices(platform, device):
        body = {"model_id": str(model.id), "target": {"device": device_id}}
        created = await _call(platform, "POST", "/api/v1/deployments", platform.admin_key, "d-create", body)
        done = await wait_deployment(platform, created["id"], {"completed", "failed", "aborted"})
    assert done["status"] == "completed"
    async with platform.client() as api:
        me = await api.me()
    deadline = time.monotonic() + 20
    while len((page := await _page(platform, action="deployment.sent", resource_id=created["id"])).events) < 2:
        assert time.monotonic() < deadline, page.events
        await asyncio.sleep(0.1)
    first, again = sorted(page.events, key=lambda e: e.detail["attempt"])
    assert [(e.actor, e.service, e.resource_type, e.org_id) for e in (first, again)] == [
        ("service:distribution", "distribution", "deployment", me.org_id)
    ] * 2
    assert first.detail == {"device_id": device_id, "attempt": 1, "wave": 0, "version": model.version}
    assert again.detail | {"attempt": 1} == first.detail and again.detail["attempt"] == 2
    # the first send is part of the user's request; the retry is the service's own timer
    assert (first.correlation_id, again.correlation_id) == ("d-create", f"retry-{created['id']}")
    created_entry = _one(await _eventually(platform, {"d-create"}, action="deployment.created"), "d-create")
    assert created_entry.actor == f"user:{me.id}"
