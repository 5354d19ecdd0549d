"""The gateway describes itself: an OpenAPI 3.1 document built from the same descriptions that register its routes,
a readable page of it, and the events' AsyncAPI document; every error is ProblemDetails, the gateway's own (unknown
route, wrong method, oversize body) included; and the inputs are held to what the document says."""

from __future__ import annotations

import io
import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from openapi_spec_validator import OpenAPIV31SpecValidator

from modelyard.gateway import asyncapi, context
from modelyard.gateway.app import create_app
from modelyard.gateway.middleware import PROTECTED_PREFIXES
from modelyard.gateway.routes.docs import PUBLISHED
from modelyard.gateway.settings import Settings as GatewaySettings

from .conftest import Platform

PROBLEM = "application/problem+json"
PROTO = Path(__file__).resolve().parents[1] / "proto"
# Registered on purpose without a description, and why.
UNDESCRIBED = {
    ("GET", "/ws/training/{job_id}"): "a WebSocket: OpenAPI cannot describe an upgrade (its SSE twin is described)",
}
PUBLIC = {
    "/api/v1/devices/enroll",
    "/api/v1/version",
    "/healthz",
    "/metrics",
    "/api/v1/openapi.json",
    "/api/v1/asyncapi.json",
    "/api/docs",
}
METHODS = {"get", "put", "post", "delete", "patch"}


@pytest.fixture(scope="module")
def app() -> web.Application:
    """The app as `create_app` makes it, not started: the document is built when the app is made."""
    return create_app(GatewaySettings(nats_url="nats://127.0.0.1:1", database_url="postgresql://nobody@127.0.0.1:1/x"))


@pytest.fixture(scope="module")
def document(app: web.Application) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(app[PUBLISHED].openapi)
    return doc


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(m, p, op) for p, ops in document["paths"].items() for m, op in ops.items() if m in METHODS]


def test_the_document_is_valid_openapi_3_1(document: dict[str, Any]) -> None:
    assert document["openapi"].startswith("3.1")
    OpenAPIV31SpecValidator(document).validate()


def test_every_registered_route_is_described_with_its_method(app: web.Application, document: dict[str, Any]) -> None:
    registered = {
        (route.method, route.resource.canonical)
        for route in app.router.routes()
        if route.method != "HEAD" and route.resource is not None  # HEAD: aiohttp's twin of each GET
    }
    described = {(method.upper(), path) for method, path, _ in _operations(document)}
    assert registered - set(UNDESCRIBED) == described
    assert set(UNDESCRIBED) <= registered, "an exclusion names a route that is gone: drop it"


def test_operation_ids_are_unique_and_every_operation_is_summarised(document: dict[str, Any]) -> None:
    ids = [op["operationId"] for _, _, op in _operations(document)]
    assert len(ids) == len(set(ids))
    assert all(op.get("summary") and op.get("tags") for _, _, op in _operations(document))


def test_every_error_an_operation_answers_is_problem_details(document: dict[str, Any]) -> None:
    problems = document["components"]["responses"]
    for problem in problems.values():
        assert problem["content"][PROBLEM]["schema"] == {"$ref": "#/components/schemas/ProblemDetails"}
    for method, path, op in _operations(document):
        errors = {status: answer for status, answer in op["responses"].items() if int(status) >= 400}
        for status, answer in errors.items():
            if "$ref" not in answer:  # a deliberate body (healthz's 503 says which check failed)
                assert answer["content"], f"{method} {path} {status}"
                continue
            assert answer["$ref"].rsplit("/", 1)[1] in problems, f"{method} {path} {status}"
        if op.get("security") != []:
            assert "401" in op["responses"], f"{method} {path} takes a key but documents no 401"


def test_only_the_public_paths_go_without_an_api_key(app: web.Application, document: dict[str, Any]) -> None:
    assert document["components"]["securitySchemes"]["apiKey"] == {
        "type": "http",
        "scheme": "bearer",
        "description": document["components"]["securitySchemes"]["apiKey"]["description"],
    }
    assert document["security"] == [{"apiKey": []}]
    public = {path for _, path, op in _operations(document) if op.get("security") == []}
    assert public == PUBLIC
    # the middleware lets through exactly these (and whatever lies outside its prefixes), from the same descriptions
    assert app[context.PUBLIC_PATHS] == PUBLIC
    assert {path for _, path, _ in _operations(document) if not path.startswith(PROTECTED_PREFIXES)} <= PUBLIC


def test_links_name_operations_and_parameters_that_exist(document: dict[str, Any]) -> None:
    by_id = {op["operationId"]: op for _, _, op in _operations(document)}
    links = 0
    for method, path, op in _operations(document):
        for status, answer in op["responses"].items():
            for name, link in answer.get("links", {}).items():
                links += 1
                target = by_id[link["operationId"]]
                names = {p["name"] for p in target.get("parameters", [])}
                assert set(link["parameters"]) <= names, f"{method} {path} {status} {name}"
                if "requestBody" in link:
                    body = target["requestBody"]["content"]["application/json"]["schema"]
                    model = document["components"]["schemas"][body["$ref"].rsplit("/", 1)[1]]
                    assert set(link["requestBody"]) <= set(model["properties"]), f"{method} {path} {name}"
    assert links >= 30
    # the walks a stateful test takes from what a client creates
    assert {"GetDataset", "UpdateDataset", "CreateUpload"} <= set(
        document["paths"]["/api/v1/datasets"]["post"]["responses"]["201"]["links"]
    )
    assert "GetUpload" in document["paths"]["/api/v1/uploads"]["post"]["responses"]["201"]["links"]
    assert "GetJob" in document["paths"]["/api/v1/training/jobs"]["post"]["responses"]["202"]["links"]


def test_bodies_leave_out_what_the_url_sets(document: dict[str, Any]) -> None:
    patch = document["paths"]["/api/v1/datasets/{id}"]["patch"]
    body = patch["requestBody"]["content"]["application/json"]["schema"]
    assert "id" not in body["properties"] and body["additionalProperties"] is False
    assert [p["name"] for p in patch["parameters"]] == ["id"]
    samples = document["paths"]["/api/v1/datasets/{id}/samples"]["post"]["requestBody"]
    assert "dataset_id" not in samples["content"]["application/json"]["schema"]["properties"]
    transition = document["paths"]["/api/v1/models/{id}/approve"]["post"]["requestBody"]
    assert set(transition["content"]["application/json"]["schema"]["properties"]) == {"reason"}


def test_chunks_are_binary_with_their_sha256_in_a_header(document: dict[str, Any]) -> None:
    put = document["paths"]["/api/v1/uploads/{id}/chunks/{index}"]["put"]
    assert put["requestBody"] == {
        "required": True,
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    }
    header = next(p for p in put["parameters"] if p["in"] == "header")
    assert header["name"] == "X-Chunk-Sha256" and header["required"] is True
    assert {"404", "409", "411", "422"} <= set(put["responses"])


def test_the_asyncapi_document_is_the_generated_one_made_self_contained() -> None:
    served = asyncapi.document()
    on_disk = json.loads((PROTO / "asyncapi.json").read_text())
    assert served["asyncapi"] == on_disk["asyncapi"]
    assert served["channels"] == on_disk["channels"] and served["operations"] == on_disk["operations"]
    schemas = served["components"]["schemas"]
    for name, message in served["components"]["messages"].items():
        target = message["payload"]["$ref"].removeprefix("#/components/schemas/")
        assert target in schemas, name
        original = on_disk["components"]["messages"][name]["payload"]["$ref"]
        file = json.loads((PROTO / original).read_text())
        assert schemas[target]["properties"] == json.loads(
            json.dumps(file["properties"]).replace('"#/$defs/', f'"#/components/schemas/{target}/$defs/')
        )
    assert not any(ref.startswith("events/") for ref in _refs(served)), "a $ref still points at a file"


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return own + [r for value in node.values() for r in _refs(value)]
    if isinstance(node, list):
        return [r for value in node for r in _refs(value)]
    return []


async def test_the_documents_and_the_page_are_served_without_a_key(platform: Platform) -> None:
    async with platform.http.get(f"{platform.url}/api/v1/openapi.json") as r:
        assert r.status == 200 and r.content_type == "application/json"
        document = await r.json()
    OpenAPIV31SpecValidator(document).validate()
    async with platform.http.get(f"{platform.url}/api/v1/asyncapi.json") as r:
        assert r.status == 200 and r.content_type == "application/json"
        assert (await r.json())["channels"] == asyncapi.document()["channels"]
    async with platform.http.get(f"{platform.url}/api/docs") as r:
        assert r.status == 200 and r.content_type == "text/html"
        page = await r.text()
    assert "<script" not in page and "http://" not in page.replace("http://127.0.0.1", "")  # nothing to fetch
    for _, path, op in _operations(document):
        assert f"id='op-{op['operationId']}'" in page and path in page


async def test_unknown_routes_wrong_methods_and_oversize_bodies_are_problem_details(platform: Platform) -> None:
    auth = platform.auth()
    for path in ("/api/v1/nothing-here", "/nothing-here"):
        async with platform.http.get(platform.url + path, headers=auth) as r:
            assert r.status == 404 and r.content_type == PROBLEM
            assert (await r.json())["correlation_id"] == r.headers["X-Correlation-Id"]
    async with platform.http.delete(f"{platform.url}/api/v1/datasets", headers=auth) as r:
        assert r.status == 405 and r.content_type == PROBLEM
        assert set(r.headers["Allow"].split(",")) == {"GET", "HEAD", "POST"}
    # a literal path beside a `{parameter}` answers for itself, not as a malformed id
    async with platform.http.get(f"{platform.url}/api/v1/devices/enroll", headers=auth) as r:
        assert r.status == 405 and r.headers["Allow"] == "POST"
    async with platform.http.patch(f"{platform.url}/api/v1/models/compare", headers=auth, json={}) as r:
        assert r.status == 405 and set(r.headers["Allow"].split(",")) == {"GET", "HEAD"}
    too_big = io.BytesIO(b"{" + b" " * platform.gateway_settings.max_body_bytes + b"}")
    async with platform.http.post(f"{platform.url}/api/v1/datasets", headers=auth, data=too_big) as r:
        assert r.status == 413 and r.content_type == PROBLEM


async def test_inputs_are_held_to_the_document(platform: Platform) -> None:
    """What the document says is what is accepted: JSON types as JSON, no field twice, no text a service cannot
    store, no number past what it can count; each is a 422 naming the field."""
    auth, url = platform.auth(), platform.url
    async with platform.http.post(f"{url}/api/v1/datasets", headers=auth, json={"name": "d", "task": "detect"}) as r:
        dataset = await r.json()
    refused: list[tuple[str, str, dict[str, Any] | None, str]] = [
        ("PUT", "/api/v1/registry/settings", {"four_eyes": 0}, "four_eyes"),
        ("PATCH", f"/api/v1/datasets/{dataset['id']}", {"id": str(uuid.uuid4())}, "id"),
        ("PATCH", f"/api/v1/datasets/{dataset['id']}", {"name": None}, "name"),
        ("PATCH", f"/api/v1/datasets/{dataset['id']}", {"class_names": None}, "class_names"),
        ("POST", "/api/v1/datasets", {"name": "a\x00b", "task": "detect"}, "name"),
        ("POST", "/api/v1/datasets", {"name": "  ", "task": "detect"}, "name"),
        ("GET", "/api/v1/datasets?limit=1&limit=2", None, "limit"),
        ("GET", "/api/v1/datasets?ai_module=a%00", None, "ai_module"),
        ("GET", "/api/v1/devices?offset=99999999999999999999", None, "offset"),
        ("GET", f"/api/v1/datasets/{dataset['id']}/versions/3000000000", None, "version"),
        ("GET", "/api/v1/audit?until=0.5", None, "until"),
        ("GET", "/api/v1/training/jobs/not-a-job/events", None, "job_id"),
    ]
    for method, path, body, field in refused:
        async with platform.http.request(method, url + path, headers=auth, json=body) as r:
            problem = await r.json()
            assert r.status == 422 and r.content_type == PROBLEM, (method, path, problem)
            assert field in {e["field"] for e in problem["errors"]}, (method, path, problem)
    async with platform.http.patch(
        f"{url}/api/v1/datasets/{dataset['id']}", headers=auth, json={"description": None}
    ) as r:
        assert r.status == 200, await r.text()  # a nullable field may still be cleared
