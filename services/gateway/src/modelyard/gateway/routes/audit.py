"""The audit trail: who did what, across every service, answered by the gateway from its own projection (no
service is asked, so the trail stays readable while one is down). Admins only, and always within the caller's own
organisation, a super admin's included: the trail of another org is that org's business."""

from __future__ import annotations

from aiohttp import web

from modelyard.contracts.api.audit import AuditQuery
from modelyard.gateway import context
from modelyard.gateway.audit import AUDIT
from modelyard.gateway.forward import answer, payload
from modelyard.runtime.problems import Forbidden

routes = web.RouteTableDef()


@routes.get("/api/v1/audit")
async def list_audit(request: web.Request) -> web.Response:
    caller = context.principal(request)
    if not caller.role.is_admin:
        raise Forbidden("only org_admin and super_admin read the audit trail")
    query = await payload(request, AuditQuery, use_query=True)
    return answer(await request.app[AUDIT].page(caller.org_id, query))
