"""Role by org by endpoint, walked over the gateway's own OpenAPI document, against the real services.

Org A (the bootstrapped one) owns one of everything: dataset, sample, version, upload, job, released model, device,
deployment, API key. Org B is created through the API with one user of each role. Then, for every operation the
document describes:
- without credentials: 401;
- for each role of org B: 403 exactly when the role lacks the operation's `x-permission` (the matrix in
  `modelyard.contracts.permissions`), and otherwise never a 403 and never org A's data: an operation on one of A's
  objects answers 404 (no read), or at least no 2xx (no write), and no answer anywhere contains an id of A's;
- every refusal is a ProblemDetails.
Org A's admin reads the same objects with 200 first, so the 404s above are about the org, not about bad ids.

The services enforce the same matrix themselves: every request subject, called straight over NATS (bypassing the
gateway) by a caller without its permission, is refused with 403 by the owning service.
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from modelyard.contracts import permissions
from modelyard.contracts.api.identity import Principal, Role
from modelyard.contracts.permissions import ROLES, Permission
from modelyard.runtime.rpc import RemoteProblem

from .conftest import Platform
from .edge_support import enroll, released_model
from .rpc_support import services_rpc
from .training_support import published_version, submit

PROBLEM = "application/problem+json"
B_ROLES = (Role.ORG_ADMIN, Role.ML_ENGINEER, Role.ANNOTATOR, Role.REVIEWER, Role.VIEWER)
# any signed-in caller may use these: they concern only the caller itself
NO_PERMISSION = {"me", "create_access_token"}
# answers that stream until the job ends: checked for their status only
STREAMING = {"training_events"}


async def _json(platform: Platform, method: str, path: str, key: str, body: Any = None) -> Any:
    async with platform.http.request(method, platform.url + path, json=body, headers=platform.auth(key)) as r:
        assert r.status < 300, f"{method} {path}: {r.status} {await r.text()}"
        return await r.json()


async def _org_a(platform: Platform, tmp_path: Path) -> dict[str, str]:
    """One of everything in org A, by its admin; returns the ids by the names of the path parameters."""
    admin = platform.admin_key
    dataset_id, version = await published_version(platform, tmp_path)
    samples = await _json(platform, "GET", f"/api/v1/datasets/{dataset_id}/samples", admin)
    upload = await _json(
        platform,
        "POST",
        "/api/v1/uploads",
        admin,
        {"dataset_id": str(dataset_id), "filename": "more.zip", "kind": "yolo_zip", "size": 10, "sha256": "0" * 64},
    )
    job = await submit(platform, dataset_id, version)
    model = await released_model(platform, ai_module="gates")
    device = await enroll(platform, "a-cam")
    deployment = await _json(
        platform,
        "POST",
        "/api/v1/deployments",
        admin,
        {"model_id": str(model.id), "target": {"device": str(device.device_id)}},
    )
    keys = await _json(platform, "GET", "/api/v1/keys", admin)
    return {
        "dataset": str(dataset_id),
        "version": str(version),
        "sample": samples["samples"][0]["id"],
        "upload": upload["id"],
        "job": job["id"],
        "model": str(model.id),
        "module": "gates",
        "device": str(device.device_id),
        "deployment": deployment["id"],
        "key": keys["keys"][0]["id"],
    }


def _fill(path: str, a: dict[str, str]) -> str:
    """The path with org A's object in every parameter (chosen by the collection the parameter follows)."""
    collection = {
        "datasets": "dataset",
        "samples": "sample",
        "versions": "version",
        "uploads": "upload",
        "jobs": "job",
        "models": "model",
        "modules": "module",
        "devices": "device",
        "deployments": "deployment",
        "keys": "key",
        "chunks": None,
    }
    parts = path.split("/")
    for i, part in enumerate(parts):
        if re.fullmatch(r"{\w+}", part):
            kind = collection[parts[i - 1]]
            parts[i] = "0" if kind is None else a[kind]
    return "/".join(parts)


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    found = []
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if operation.get("security") != []:  # public operations say `security: []`
                found.append((method.upper(), path, operation))
    return found


async def _send(
    platform: Platform, method: str, url: str, key: str | None, operation: dict[str, Any]
) -> tuple[int, str, str]:
    headers = platform.auth(key) if key else {}
    body = operation.get("requestBody", {}).get("content", {})
    kwargs: dict[str, Any] = {}
    if "application/json" in body:
        kwargs["json"] = {}
    elif body:
        kwargs["data"] = b"x"
    async with platform.http.request(method, platform.url + url, headers=headers, **kwargs) as r:
        if operation["operationId"] in STREAMING and r.status == 200:
            return r.status, r.content_type, ""
        return r.status, r.content_type, await r.text()


async def test_every_endpoint_refuses_other_orgs_and_roles_without_the_permission(
    platform: Platform, tmp_path: Path
) -> None:
    a = await _org_a(platform, tmp_path)
    async with platform.http.get(f"{platform.url}/api/v1/openapi.json") as r:
        document = await r.json()
    operations = _operations(document)
    assert len(operations) > 60

    # every operation names its permission, and it is one the matrix knows
    for method, path, operation in operations:
        if operation["operationId"] not in NO_PERMISSION:
            assert Permission(operation.get("x-permission", "none")), f"{method} {path} names no permission"

    # positive control: A's admin reads A's objects
    for method, path, operation in operations:
        if method == "GET" and "{" in path and operation["operationId"] not in STREAMING:
            status, _, text = await _send(platform, method, _fill(path, a), platform.admin_key, operation)
            assert status == 200, f"org A's admin: GET {path}: {status} {text}"

    org_b = await _json(platform, "POST", "/api/v1/orgs", platform.admin_key, {"name": "org-b", "plan": "enterprise"})
    b_keys = {Role.ORG_ADMIN: org_b["admin_api_key"]}
    for role in B_ROLES[1:]:
        made = await _json(
            platform, "POST", "/api/v1/users", org_b["admin_api_key"], {"name": role.value, "role": role.value}
        )
        b_keys[role] = made["api_key"]
    a_ids = set(a.values()) - {a["version"], a["module"]}

    checked = 0
    for method, path, operation in operations:
        url = _fill(path, a)
        status, content_type, text = await _send(platform, method, url, None, operation)
        assert (status, content_type) == (401, PROBLEM), f"anonymous {method} {path}: {status}"
        needs = operation.get("x-permission")
        for role, key in b_keys.items():
            status, content_type, text = await _send(platform, method, url, key, operation)
            where = f"{role.value} of org B: {method} {url}: {status} {text[:300]}"
            assert status < 500, where
            if needs is not None and Permission(needs) not in ROLES[role]:
                assert status == 403 and content_type == PROBLEM, where
                continue
            assert status != 403, where
            # a 404 may repeat the id it was asked for; any other of A's ids in the answer is a leak
            assert not any(i in text for i in a_ids if i not in url), f"org A's data leaked: {where}"
            if "{" in path:
                assert not 200 <= status < 300, f"org A's object reached: {where}"
                if method in ("GET", "DELETE"):
                    assert status == 404 and content_type == PROBLEM, where
            checked += 1
    assert checked > 150

    # writes that name A's objects in the body, not the path: refused as unknown, nothing made
    admin_b = b_keys[Role.ORG_ADMIN]
    writes = [
        ("/api/v1/training/jobs", {"name": "x", "dataset_id": a["dataset"], "dataset_version": int(a["version"])}),
        ("/api/v1/deployments", {"model_id": a["model"], "target": {"all": True}}),
        (
            "/api/v1/uploads",
            {"dataset_id": a["dataset"], "filename": "x.zip", "kind": "yolo_zip", "size": 1, "sha256": "0" * 64},
        ),
        ("/api/v1/datasets/" + a["dataset"] + "/versions", {}),
    ]
    for path, body in writes:
        async with platform.http.post(platform.url + path, json=body, headers=platform.auth(admin_b)) as r:
            assert r.status == 404 and r.content_type == PROBLEM, f"POST {path}: {r.status} {await r.text()}"


class _Anything(BaseModel):
    pass


async def test_each_service_refuses_a_request_without_its_permission(platform: Platform) -> None:
    """Straight over NATS, past the gateway: an org admin whose key has no scopes, then (for what a viewer may not
    do) a viewer. The owning service answers 403 before it reads the payload."""
    org = uuid.uuid4()
    scopeless = Principal(org_id=org, user_id=uuid.uuid4(), role=Role.ORG_ADMIN, scopes=frozenset())
    viewer = Principal(org_id=org, user_id=uuid.uuid4(), role=Role.VIEWER)
    refused = 0
    async with services_rpc(platform) as rpc:
        for subject, needs in sorted(permissions.SUBJECTS.items()):
            if needs is None:
                continue
            for caller in (scopeless, viewer) if needs not in ROLES[Role.VIEWER] else (scopeless,):
                with pytest.raises(RemoteProblem) as answer:
                    await rpc.call(subject, caller, _Anything(), "matrix", _Anything)
                problem = answer.value.problem()
                assert problem.status == 403 and needs.value in (problem.detail or ""), (subject, caller.role, problem)
                refused += 1
    assert refused > 60
