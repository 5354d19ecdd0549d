"""Users and their API keys. Admins create users; the new user's key is in the 201 response, and only there."""

from __future__ import annotations

from aiohttp import web

from modelyard.contracts.api.identity import User, UserCreate, UserWithKey
from modelyard.contracts.api.paging import NoQuery
from modelyard.contracts.permissions import Permission
from modelyard.gateway import context
from modelyard.gateway.endpoints import Api, Endpoint
from modelyard.runtime.problems import Forbidden, Unauthorized

api = Api("users")
routes = api.routes


@api.route(
    "POST",
    "/api/v1/users",
    "Create a user and its API key (admins)",
    request=UserCreate,
    permission=Permission.USER_MANAGE,
    from_body=True,
    response=UserWithKey,
    status=201,
    forwarded=False,
)
async def create_user(request: web.Request, ep: Endpoint[UserCreate, UserWithKey]) -> web.Response:
    """The key is in this answer only (it is stored hashed). Only a super admin creates another super admin."""
    caller = context.principal(request)
    spec = await ep.payload(request)
    if not caller.role.may_grant(spec.role):
        raise Forbidden(f"a {caller.role.value} cannot create a {spec.role.value}")
    user = await request.app[context.IDENTITY].create_user(
        caller.org_id,
        spec.name,
        spec.role,
        actor=caller.actor,
        correlation_id=context.correlation_id(request),
    )
    return ep.answer(user, headers={"Cache-Control": "no-store"})


@api.route("GET", "/api/v1/me", "The caller", request=NoQuery, response=User, forwarded=False)
async def me(request: web.Request, ep: Endpoint[NoQuery, User]) -> web.Response:
    """The signed-in user, in its own organisation (also when a super admin acts in another one)."""
    await ep.payload(request)
    home = context.caller(request).principal
    user = await request.app[context.IDENTITY].get_user(home.org_id, home.user_id)
    if user is None:  # the key authenticated a moment ago: only a user deleted in between gets here
        raise Unauthorized("the API key's user no longer exists")
    return ep.answer(user)
