"""Request pipeline: correlation id → errors as ProblemDetails → authentication for /api/v1."""

from __future__ import annotations

import re
import uuid

from aiohttp import web
from aiohttp.typedefs import Handler

from modelyard.gateway import context, keys, problems
from modelyard.runtime.logging import bound, get_logger
from modelyard.runtime.problems import ServiceError, Unauthorized

log = get_logger(__name__)
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
PROTECTED_PREFIXES = ("/api/v1/", "/ws/")
# headers of aiohttp's own errors that the problem keeps: a 405 must still say which methods the path takes
_KEPT_HEADERS = ("Allow",)


@web.middleware
async def correlation(request: web.Request, handler: Handler) -> web.StreamResponse:
    given = request.headers.get(context.CORRELATION_HEADER, "")
    cid = given if _SAFE_ID.match(given) else str(uuid.uuid4())
    request[context.CORRELATION_ID] = cid
    with bound(correlation_id=cid, method=request.method, path=request.path):
        response = await handler(request)
    response.headers[context.CORRELATION_HEADER] = cid
    return response


@web.middleware
async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    cid = context.correlation_id(request)
    try:
        return await handler(request)
    except ServiceError as exc:
        problem = exc.problem(cid)  # a service's problem carries its own status
        if problem.status >= 500:
            log.warning("request.failed", status=problem.status, detail=exc.detail)
        headers = {"WWW-Authenticate": 'Bearer realm="modelyard"'} if problem.status == 401 else None
        return problems.respond(problem, instance=request.path, headers=headers)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        kept = {name: exc.headers[name] for name in _KEPT_HEADERS if name in exc.headers}
        return problems.respond(problems.from_http_error(exc, cid), instance=request.path, headers=kept or None)
    except Exception:
        log.exception("request.crashed")
        return problems.respond(ServiceError("unexpected error; quote the correlation id").problem(cid))


@web.middleware
async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
    if not request.path.startswith(PROTECTED_PREFIXES) or request.path in request.app.get(context.PUBLIC_PATHS, ()):
        return await handler(request)
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("send 'Authorization: Bearer <api key>'")
    found = (
        await request.app[context.IDENTITY].principal_for_key(token.strip())
        if keys.looks_like_key(token.strip())
        else None
    )
    if found is None:
        raise Unauthorized("the API key is unknown or revoked")
    request[context.PRINCIPAL] = found
    with bound(org_id=str(found.org_id), actor=found.actor):
        return await handler(request)
