"""Request pipeline: correlation id → errors as ProblemDetails → authentication for /api/v1."""

from __future__ import annotations

import re
import uuid

from aiohttp import web
from aiohttp.typedefs import Handler
from structlog.contextvars import bind_contextvars

from modelyard.contracts.api.identity import Principal, Role
from modelyard.contracts.api.problems import FieldError
from modelyard.gateway import context, problems
from modelyard.runtime.logging import get_logger
from modelyard.runtime.problems import Forbidden, InvalidInput, NotFound, RateLimited, ServiceError, Unauthorized

log = get_logger(__name__)
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
PROTECTED_PREFIXES = ("/api/v1/", "/ws/")
ORG_HEADER = "X-Modelyard-Org"  # a super admin acting in another organisation
# headers of aiohttp's own errors that the problem keeps: a 405 must still say which methods the path takes
_KEPT_HEADERS = ("Allow",)


@web.middleware
async def correlation(request: web.Request, handler: Handler) -> web.StreamResponse:
    given = request.headers.get(context.CORRELATION_HEADER, "")
    cid = given if _SAFE_ID.match(given) else str(uuid.uuid4())
    request[context.CORRELATION_ID] = cid
    # bound without a reset: aiohttp serves a connection's requests one after the other in one task, and every
    # request overwrites all of these (cheaper than a context manager per request, which cost ~15% of a GET)
    bind_contextvars(correlation_id=cid, method=request.method, path=request.path, org_id=None, actor=None)
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
    """An API key or an access token, then the key's request rate (429 with Retry-After past the plan's)."""
    if not request.path.startswith(PROTECTED_PREFIXES) or request.path in request.app.get(context.PUBLIC_PATHS, ()):
        return await handler(request)
    scheme, _, credential = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not credential.strip():
        raise Unauthorized("send 'Authorization: Bearer <api key or access token>'")
    caller = await request.app[context.AUTH].caller(credential.strip())
    wait_s = request.app[context.RATE_LIMITS].take(caller.key_id, caller.principal.plan)
    if wait_s is not None:
        plan = caller.principal.plan.value
        problem = RateLimited(f"this API key sent more requests than the {plan} plan allows; retry in {wait_s} s")
        return problems.respond(
            problem.problem(context.correlation_id(request)),
            instance=request.path,
            headers={"Retry-After": str(wait_s)},
        )
    principal = caller.principal
    if ORG_HEADER in request.headers:
        principal = await _acting_in(request, principal, request.headers[ORG_HEADER])
    request[context.PRINCIPAL] = principal
    request[context.CALLER] = caller
    bind_contextvars(org_id=str(principal.org_id), actor=principal.actor)
    return await handler(request)


async def _acting_in(request: web.Request, principal: Principal, given: str) -> Principal:
    """A super admin works in every organisation: `X-Modelyard-Org: <org id>` makes the request one of that org
    (its plan and limits, its data), still in the super admin's name. Anyone else sending the header is refused."""
    if principal.role is not Role.SUPER_ADMIN:
        raise Forbidden(f"only a super_admin may act in another organisation ({ORG_HEADER})")
    try:
        org_id = uuid.UUID(given)
    except ValueError:
        error = FieldError(field=ORG_HEADER, message="not an organisation id", code="uuid_parsing")
        raise InvalidInput(f"{ORG_HEADER} must be an organisation id", errors=[error]) from None
    org = await request.app[context.IDENTITY].get_org(org_id)
    if org is None:
        raise NotFound(f"no organisation {org_id}")
    return principal.model_copy(update={"org_id": org.id, "plan": org.plan})
