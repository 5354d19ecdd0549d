"""Most routes are the same three steps: gather the payload from the path, the query and the body; validate it
with the contract model (a precise 422 before anything leaves the gateway); call the owning service over NATS and
answer its typed result. `forward` does exactly that."""

from __future__ import annotations

import json
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from modelyard.contracts.api.problems import FieldError
from modelyard.gateway import body, context
from modelyard.runtime.problems import InvalidInput, invalid

P = TypeVar("P", bound=BaseModel)
R = TypeVar("R", bound=BaseModel)


async def payload(
    request: web.Request,
    model: type[P],
    *,
    path: dict[str, str] | None = None,
    use_body: bool = False,
    use_query: bool = False,
    fixed: dict[str, Any] | None = None,
) -> P:
    data: dict[str, Any] = {}
    set_by_route = {*(path or {}).values(), *(fixed or {})}
    sent: dict[str, Any] = {}
    if use_body:
        sent = _own(await body.read_object(request), set_by_route, "the body")
        data |= sent
    if use_query:
        data |= _own(_single_values(request), set_by_route, "the query")
    for url_name, field in (path or {}).items():
        data[field] = request.match_info[url_name]
    body.check_text({k: v for k, v in data.items() if k not in sent})
    data |= fixed or {}
    try:
        validated = model.model_validate(data)
    except ValidationError as exc:
        raise invalid(exc) from None
    if sent:
        _json_types(model, validated, sent)
    return validated


def _json_types(model: type[P], validated: P, sent: dict[str, Any]) -> None:
    """The body's values have the JSON types the schema names: `true`, not `1` or `"yes"`; `5`, not `"5"`.

    The payload is validated leniently first (path and query values are strings that must become numbers and
    ids); the body's own values are then checked strictly, as JSON, over the lenient result. JSON Schema counts
    `5.0` as an integer, so integral floats pass as integers here too. Only a check: what goes on is `validated`.
    """
    overlay = validated.model_dump(mode="json", exclude_unset=True) | _integral(sent)
    try:
        model.model_validate_json(json.dumps(overlay), strict=True)
    except ValidationError as exc:
        raise invalid(exc) from None


def _integral(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**63:
        return int(value)
    if isinstance(value, dict):
        return {k: _integral(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_integral(v) for v in value]
    return value


def _single_values(request: web.Request) -> dict[str, str]:
    """Each query parameter once: `?limit=1&limit=500` is refused rather than silently read as its first value."""
    repeated = sorted({key for key in request.query if len(request.query.getall(key)) > 1})
    if repeated:
        errors = [FieldError(field=key, message="given more than once", code="repeated") for key in repeated]
        raise InvalidInput(f"query parameters given more than once: {', '.join(repeated)}", errors=errors)
    return {key: request.query[key] for key in request.query}


def _own(given: dict[str, Any], set_by_route: set[str], where: str) -> dict[str, Any]:
    """What the client sent, refused where it names a field the URL or the route sets: the path would silently win
    otherwise, and a request that says two things is a client bug worth a 422."""
    clash = sorted(set_by_route & set(given))
    if clash:
        errors = [FieldError(field=name, message=f"not allowed in {where}", code="extra_forbidden") for name in clash]
        raise InvalidInput(f"{where} may not set {', '.join(clash)}", errors=errors)
    return given


async def call(
    request: web.Request, subject: str, model: type[P], result: type[R], *, timeout_s: float | None = None, **how: Any
) -> R:
    sent = await payload(request, model, **how)
    rpc = request.app[context.RPC]
    return await rpc.call(
        subject, context.principal(request), sent, context.correlation_id(request), result, timeout_s=timeout_s
    )


def answer(model: BaseModel, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(body=model.model_dump_json(), status=status, headers=headers, content_type="application/json")
