"""Most routes are the same three steps: gather the payload from the path, the query and the body; validate it
with the contract model (a precise 422 before anything leaves the gateway); call the owning service over NATS and
answer its typed result. `forward` does exactly that."""

from __future__ import annotations

from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from modelyard.gateway import body, context
from modelyard.runtime.problems import invalid

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
    if use_body:
        data |= await body.read_object(request)
    if use_query:
        data |= {key: request.query.getone(key) for key in request.query}
    for url_name, field in (path or {}).items():
        data[field] = request.match_info[url_name]
    data |= fixed or {}
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise invalid(exc) from None


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
