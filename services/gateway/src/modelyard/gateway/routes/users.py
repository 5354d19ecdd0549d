"""Users and their API keys. Admins create users; the new user's key is in the 201 response, and only there."""

from __future__ import annotations

from aiohttp import web

from modelyard.contracts.api.identity import UserCreate
from modelyard.gateway import body, context
from modelyard.runtime.problems import Forbidden

routes = web.RouteTableDef()


@routes.post("/api/v1/users")
async def create_user(request: web.Request) -> web.Response:
    caller = context.principal(request)
    if not caller.role.is_admin:
        raise Forbidden("only org_admin and super_admin create users")
    spec = await body.read(request, UserCreate)
    if not caller.role.may_grant(spec.role):
        raise Forbidden(f"a {caller.role.value} cannot create a {spec.role.value}")
    user = await request.app[context.IDENTITY].create_user(
        caller.org_id,
        spec.name,
        spec.role,
        actor=caller.actor,
        correlation_id=context.correlation_id(request),
    )
    return web.json_response(user.model_dump(mode="json"), status=201, headers={"Cache-Control": "no-store"})


@routes.get("/api/v1/me")
async def me(request: web.Request) -> web.Response:
    caller = context.principal(request)
    user = await request.app[context.IDENTITY].get_user(caller.org_id, caller.user_id)
    return web.json_response(user.model_dump(mode="json") if user else {})
