"""The audit trail: who did what, across every service, answered by the gateway from its own projection (no
service is asked, so the trail stays readable while one is down). Admins only, and always within the caller's own
organisation, a super admin's included: the trail of another org is that org's business."""

from __future__ import annotations

from aiohttp import web

from modelyard.contracts.api.audit import AuditList, AuditQuery
from modelyard.contracts.permissions import Permission
from modelyard.gateway import context
from modelyard.gateway.audit import AUDIT
from modelyard.gateway.endpoints import Api, Endpoint

api = Api("audit")
routes = api.routes


@api.route(
    "GET",
    "/api/v1/audit",
    "The audit trail (admins)",
    request=AuditQuery,
    permission=Permission.AUDIT_READ,
    from_query=True,
    response=AuditList,
    forwarded=False,  # answered from the gateway's own projection
)
async def list_audit(request: web.Request, ep: Endpoint[AuditQuery, AuditList]) -> web.Response:
    """Who did what, across every service, newest first, within the caller's organisation. `action` is exact or a
    prefix ending in `*` (`model.*`); `since` is inclusive, `until` exclusive."""
    caller = context.principal(request)
    query = await ep.payload(request)
    return ep.answer(await request.app[AUDIT].page(caller.org_id, query))
