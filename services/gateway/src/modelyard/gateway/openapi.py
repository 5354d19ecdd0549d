"""The gateway's OpenAPI 3.1 document, built from the endpoint descriptions (`endpoints.py`) and the contract
models' own JSON Schemas, so the document cannot drift from what the gateway validates.

Every model is generated in one pass (`models_json_schema`), so one name means one schema across the document and
every `$defs` lands in `components.schemas`. A request model contributes path parameters, query parameters or a
body, as its endpoint says; fields the URL or the route sets are left out of the body (and refused there).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from modelyard.contracts import permissions
from modelyard.contracts.api.problems import PROBLEM_CONTENT_TYPE, ProblemDetails
from modelyard.gateway.endpoints import Endpoint

OPENAPI_VERSION = "3.1.0"
REF = "#/components/schemas/{model}"
SECURITY_SCHEME = "apiKey"
# A character that whitespace stripping keeps: pydantic strips Unicode White_Space, which is not quite regex `\s`
# (U+0085 is White_Space, U+FEFF is not), so the class is spelled out.
NOT_BLANK = r"[^\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
_PATH_PARAM = re.compile(r"{([^}/]+)}")
Refs = Mapping[tuple[Any, JsonSchemaMode], Any]  # (model, mode) → its `$ref`, as models_json_schema answers

# One reusable response per problem status: (component name, description).
PROBLEMS: dict[int, tuple[str, str]] = {
    400: ("BadRequest", "The body is not a JSON object"),
    401: ("Unauthorized", "No API key, or an unknown or revoked one"),
    403: ("Forbidden", "The caller's role may not do this"),
    404: ("NotFound", "The resource, or one the request refers to, does not exist in the caller's organisation"),
    405: ("MethodNotAllowed", "The path does not take this method; `Allow` lists those it takes"),
    409: ("Conflict", "The request does not fit the resource's current state"),
    411: ("LengthRequired", "Send Content-Length"),
    413: ("ContentTooLarge", "The body is larger than the gateway accepts"),
    422: ("ValidationFailed", "Invalid fields, one entry per field in `errors`"),
    429: (
        "TooManyRequests",
        "A plan quota is used up, or the API key sent requests faster than its plan allows "
        "(then `Retry-After` says how many seconds to wait)",
    ),
    503: ("Unavailable", "The service that owns the resource did not answer"),
}


def build(endpoints: Iterable[Endpoint[Any, Any]], *, title: str, version: str, description: str) -> dict[str, Any]:
    """The whole document; raises ValueError for a description that cannot be right (a duplicate operation, a
    link to an unknown operation, a path parameter no field takes)."""
    described = list(endpoints)
    _check_unique(described)
    refs, definitions = models_json_schema(_models(described), ref_template=REF)
    schemas: dict[str, Any] = definitions.get("$defs", {})
    for model in {e.request for e in described}:
        _tidy(_resolve(refs[(model, "validation")], schemas, copy=False), model)
    operation_ids = {e.operation_id for e in described}
    paths: dict[str, dict[str, Any]] = {}
    for endpoint in described:
        paths.setdefault(endpoint.path, {})[endpoint.method.lower()] = _operation(
            endpoint, refs, schemas, operation_ids
        )
    used = _referenced(paths, schemas)
    return {
        "openapi": OPENAPI_VERSION,
        "info": {"title": title, "version": version, "description": description},
        "tags": [{"name": tag} for tag in dict.fromkeys(e.tag for e in described)],
        "security": [{SECURITY_SCHEME: []}],
        "paths": paths,
        "components": {
            "schemas": {name: schema for name, schema in schemas.items() if name in used},
            "responses": {name: _problem_response(status, text) for status, (name, text) in PROBLEMS.items()},
            "securitySchemes": {
                SECURITY_SCHEME: {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An API key or an access token: `Authorization: Bearer <key or token>`. A new "
                    "user's key is in the answer to POST /api/v1/users, and only there; POST /api/v1/auth/token "
                    "exchanges a key for a short-lived token. A super_admin may add `X-Modelyard-Org: <org id>` "
                    "to act in another organisation.",
                }
            },
        },
    }


def _check_unique(endpoints: list[Endpoint[Any, Any]]) -> None:
    seen: set[tuple[str, str]] = set()
    ids: set[str] = set()
    for e in endpoints:
        if (e.method, e.path) in seen or e.operation_id in ids:
            raise ValueError(f"{e.method} {e.path} ({e.operation_id}) is described twice")
        seen.add((e.method, e.path))
        ids.add(e.operation_id)


def _models(endpoints: list[Endpoint[Any, Any]]) -> list[tuple[type[BaseModel], JsonSchemaMode]]:
    wanted: dict[tuple[type[BaseModel], JsonSchemaMode], None] = {(ProblemDetails, "serialization"): None}
    for e in endpoints:
        wanted[(e.request, "validation")] = None
        if e.response is not None and e.response_schema is None:
            wanted[(e.response, "serialization")] = None
    return list(wanted)


def _operation(
    e: Endpoint[Any, Any],
    refs: Refs,
    schemas: dict[str, Any],
    operation_ids: set[str],
) -> dict[str, Any]:
    request_schema = _resolve(refs[(e.request, "validation")], schemas)
    properties: dict[str, Any] = request_schema.get("properties", {})
    required = set(request_schema.get("required", []))
    set_by_route = {*e.from_path.values(), *e.fixed}

    parameters: list[dict[str, Any]] = []
    for url_name in _PATH_PARAM.findall(e.path):
        field = e.from_path.get(url_name)
        if field not in properties:
            raise ValueError(f"{e.operation_id}: no field of {e.request.__name__} takes the path parameter {url_name}")
        parameters.append(
            {"name": url_name, "in": "path", "required": True, "schema": _param_schema(properties[field])}
        )
    if e.from_query:
        for name, schema in properties.items():
            if name not in set_by_route:
                parameters.append(
                    {"name": name, "in": "query", "required": name in required, "schema": _param_schema(schema)}
                    | _description(schema)
                )
    parameters.extend(dict(p) for p in e.parameters)

    operation: dict[str, Any] = {"operationId": e.operation_id, "summary": e.summary, "tags": [e.tag]}
    if e.description:
        operation["description"] = e.description
    if e.permission is not None:
        roles = ", ".join(role.value for role, held in permissions.ROLES.items() if e.permission in held)
        needs = f"Needs `{e.permission.value}` ({roles})."
        operation["description"] = f"{e.description}\n\n{needs}" if e.description else needs
        operation["x-permission"] = e.permission.value
    if parameters:
        operation["parameters"] = parameters
    if e.from_body:
        operation["requestBody"] = _json_body(e, refs, request_schema, set_by_route)
    elif e.body_content != "application/json":
        operation["requestBody"] = {
            "required": True,
            "content": {e.body_content: {"schema": {"type": "string", "format": "binary"}}},
        }
    operation["responses"] = _responses(e, refs, operation_ids)
    if e.public:
        operation["security"] = []
    return operation


def _json_body(
    e: Endpoint[Any, Any],
    refs: Refs,
    model_schema: dict[str, Any],
    set_by_route: set[str],
) -> dict[str, Any]:
    """The request model as a body, less the fields the URL or the route sets; required when any field is."""
    if set_by_route & set(model_schema.get("properties", {})):
        schema = copy.deepcopy(model_schema)
        for name in set_by_route:
            schema.get("properties", {}).pop(name, None)
        schema["required"] = [n for n in schema.get("required", []) if n not in set_by_route]
        if not schema["required"]:
            del schema["required"]
        schema.pop("title", None)
    else:
        schema = refs[(e.request, "validation")]
    required = set(model_schema.get("required", [])) - set_by_route
    return {"required": bool(required), "content": {"application/json": {"schema": schema}}}


def _responses(e: Endpoint[Any, Any], refs: Refs, operation_ids: set[str]) -> dict[str, Any]:
    if e.response_schema is not None:
        schema: dict[str, Any] | None = dict(e.response_schema)
    elif e.response is not None:
        schema = refs[(e.response, "serialization")]
    else:
        schema = None
    links = {}
    for name, link in e.links.items():
        if link.operation not in operation_ids:
            raise ValueError(f"{e.operation_id}: link {name} names an unknown operation {link.operation}")
        links[name] = {"operationId": link.operation, "parameters": dict(link.parameters)}
        if link.request_body is not None:
            links[name]["requestBody"] = dict(link.request_body)
        if link.description:
            links[name]["description"] = link.description
    answers: dict[str, Any] = {}
    for status, text in {e.status: e.summary, **e.also}.items():
        answer: dict[str, Any] = {"description": text}
        if schema is not None and status != 302:
            answer["content"] = {e.content_type: {"schema": schema}}
        if status == 302:
            answer["headers"] = {"Location": {"required": True, "schema": {"type": "string"}}}
        if links and 200 <= status < 300:
            answer["links"] = links
        answers[str(status)] = answer
    for status in sorted(e.error_statuses):
        answers[str(status)] = {"$ref": f"#/components/responses/{PROBLEMS[status][0]}"}
    return answers


def _problem_response(status: int, description: str) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description,
        "content": {PROBLEM_CONTENT_TYPE: {"schema": {"$ref": REF.format(model=ProblemDetails.__name__)}}},
    }
    if status == 401:
        response["headers"] = {"WWW-Authenticate": {"schema": {"type": "string"}}}
    if status == 405:
        response["headers"] = {"Allow": {"schema": {"type": "string"}}}
    return response


def _resolve(ref_or_schema: Mapping[str, Any], schemas: Mapping[str, Any], *, copy: bool = True) -> dict[str, Any]:
    ref = ref_or_schema.get("$ref")
    if not (isinstance(ref, str) and ref.startswith(REF.format(model=""))):
        return dict(ref_or_schema)
    found: dict[str, Any] = schemas[ref.rsplit("/", 1)[1]]
    return dict(found) if copy else found


def _tidy(model_schema: dict[str, Any], model: type[BaseModel]) -> None:
    """Say in a request schema what the model does beyond its JSON Schema, or a client reading it would send
    refused values in good faith: a model that strips whitespace refuses "  " where a string must not be empty
    (so: a non-space character); a field that is optional but not nullable has no `null` default."""
    strips = bool(model.model_config.get("str_strip_whitespace"))
    for prop in model_schema.get("properties", {}).values():
        branches = [prop, *prop.get("anyOf", [])]
        if prop.get("default", ...) is None and not any(b.get("type") == "null" for b in branches):
            del prop["default"]
        for branch in branches:
            if strips and branch.get("type") == "string" and branch.get("minLength", 0) >= 1:
                if "pattern" in branch:
                    branch.setdefault("allOf", []).append({"pattern": NOT_BLANK})
                else:
                    branch["pattern"] = NOT_BLANK


def _referenced(paths: Mapping[str, Any], schemas: Mapping[str, Any]) -> set[str]:
    """The component schemas the operations and problems reach, through any number of `$ref`s."""
    found: set[str] = {ProblemDetails.__name__}
    todo: list[Any] = [paths, schemas[ProblemDetails.__name__]]
    while todo:
        node = todo.pop()
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith(REF.format(model="")):
                name = ref.rsplit("/", 1)[1]
                if name not in found:
                    found.add(name)
                    todo.append(schemas[name])
            todo.extend(node.values())
        elif isinstance(node, list):
            todo.extend(node)
    return found


def _param_schema(schema: Mapping[str, Any]) -> dict[str, Any]:
    """A field's schema as a path or query parameter: a parameter is absent rather than null, so the `null` branch
    of an optional field goes, and with it a `null` default."""
    out = {k: v for k, v in schema.items() if k not in ("title", "description")}
    branches = out.pop("anyOf", None)
    if branches is not None:
        kept = [b for b in branches if b.get("type") != "null"]
        if len(kept) == 1:
            out = kept[0] | out
        else:
            out["anyOf"] = kept
    if out.get("default", ...) is None:
        del out["default"]
    return out


def _description(schema: Mapping[str, Any]) -> dict[str, str]:
    text = schema.get("description")
    return {"description": text} if isinstance(text, str) else {}
