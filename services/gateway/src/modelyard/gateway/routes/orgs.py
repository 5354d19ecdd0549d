"""Organisations (super admins): each with its plan and a first org_admin, whose key is in the 201 answer only."""

from __future__ import annotations

from aiohttp import web

from modelyard.contracts.api.identity import OrgCreate, OrgList, OrgWithAdmin
from modelyard.contracts.api.paging import NoQuery
from modelyard.contracts.permissions import Permission
from modelyard.gateway import context
from modelyard.gateway.endpoints import Api, Endpoint
from modelyard.runtime.problems import Conflict

api = Api("orgs")
routes = api.routes


@api.route(
    "POST",
    "/api/v1/orgs",
    "Create an organisation and its first admin (super admins)",
    request=OrgCreate,
    permission=Permission.ORG_MANAGE,
    from_body=True,
    response=OrgWithAdmin,
    status=201,
    forwarded=False,
    errors={409},
)
async def create_org(request: web.Request, ep: Endpoint[OrgCreate, OrgWithAdmin]) -> web.Response:
    """The org on `plan` (default free) with an org_admin named `admin_name`; `admin_api_key` is shown here once.
    409 when the name is taken."""
    caller = context.principal(request)
    spec = await ep.payload(request)
    org = await request.app[context.IDENTITY].create_org(
        spec.name, spec.plan, spec.admin_name, actor=caller.actor, correlation_id=context.correlation_id(request)
    )
    if org is None:
        raise Conflict(f"an organisation named {spec.name!r} exists")
    return ep.answer(org, headers={"Cache-Control": "no-store"})


@api.route(
    "GET",
    "/api/v1/orgs",
    "Organisations (super admins)",
    request=NoQuery,
    permission=Permission.ORG_MANAGE,
    response=OrgList,
    forwarded=False,
)
async def list_orgs(request: web.Request, ep: Endpoint[NoQuery, OrgList]) -> web.Response:
    await ep.payload(request)
    return ep.answer(OrgList(orgs=await request.app[context.IDENTITY].list_orgs()))
