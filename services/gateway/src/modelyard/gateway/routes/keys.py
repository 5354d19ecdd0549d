"""API keys and access tokens: a caller manages its own keys; an admin (`user:manage`) sees and revokes every key
of its org. A new key's secret is in the 201 answer only. Scopes narrow a key to some of its owner's permissions;
a key cannot grant more than the caller holds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from aiohttp import web

from modelyard.contracts import subjects
from modelyard.contracts.api.identity import (
    AccessToken,
    ApiKey,
    ApiKeyCreate,
    ApiKeyList,
    ApiKeyRef,
    ApiKeyWithSecret,
    TokenRequest,
)
from modelyard.contracts.api.paging import NoQuery
from modelyard.contracts.api.problems import FieldError
from modelyard.contracts.permissions import Permission
from modelyard.gateway import context
from modelyard.gateway.endpoints import Api, Endpoint, Link
from modelyard.runtime.problems import Forbidden, InvalidInput, NotFound

api = Api("keys")
routes = api.routes
BASE = "/api/v1/keys"
NO_STORE = {"Cache-Control": "no-store"}


@api.route(
    "POST",
    BASE,
    "Create an API key for yourself",
    request=ApiKeyCreate,
    permission=Permission.KEY_MANAGE,
    from_body=True,
    response=ApiKeyWithSecret,
    status=201,
    forwarded=False,
    links={"RevokeKey": Link("revoke_key", {"id": "$response.body#/id"})},
)
async def create_key(request: web.Request, ep: Endpoint[ApiKeyCreate, ApiKeyWithSecret]) -> web.Response:
    """`scopes`: some of your own permissions (422 for one you do not hold). The key is in this answer only (it is
    stored hashed)."""
    caller = context.principal(request)
    spec = await ep.payload(request)
    if spec.scopes is not None:
        beyond = sorted(p.value for p in set(spec.scopes) - caller.permissions)
        if beyond:
            error = FieldError(field="scopes", message=f"you do not hold {', '.join(beyond)}", code="beyond")
            raise InvalidInput("a key cannot do more than its owner", errors=[error])
    scopes = None if spec.scopes is None else sorted(set(spec.scopes))
    expires_at = None if spec.expires_in_days is None else datetime.now(UTC) + timedelta(days=spec.expires_in_days)
    key = await request.app[context.IDENTITY].create_key(
        caller, spec.name, scopes, expires_at, correlation_id=context.correlation_id(request)
    )
    return ep.answer(key, headers=NO_STORE)


@api.route(
    "GET", BASE, "API keys", request=NoQuery, permission=Permission.KEY_MANAGE, response=ApiKeyList, forwarded=False
)
async def list_keys(request: web.Request, ep: Endpoint[NoQuery, ApiKeyList]) -> web.Response:
    """Your keys; an admin sees every key of the org. Never the secrets."""
    caller = context.principal(request)
    await ep.payload(request)
    owner = None if caller.may(Permission.USER_MANAGE) else caller.user_id
    return ep.answer(ApiKeyList(keys=await request.app[context.IDENTITY].list_keys(caller.org_id, owner)))


@api.route(
    "DELETE",
    BASE + "/{id}",
    "Revoke an API key",
    request=ApiKeyRef,
    permission=Permission.KEY_MANAGE,
    from_path={"id": "id"},
    response=ApiKey,
    forwarded=False,
)
async def revoke_key(request: web.Request, ep: Endpoint[ApiKeyRef, ApiKey]) -> web.Response:
    """At once, on every gateway: the key and the access tokens made from it stop working. Yours, or (admins) any
    of the org's; 404 for any other. Revoking a revoked key answers it unchanged."""
    caller = context.principal(request)
    ref = await ep.payload(request)
    revoked = await request.app[context.IDENTITY].revoke_key(
        caller, ref.id, any_user=caller.may(Permission.USER_MANAGE), correlation_id=context.correlation_id(request)
    )
    if revoked is None:
        raise NotFound(f"no API key {ref.id}")
    request.app[context.AUTH].revoked(revoked.id)
    await request.app[context.RESOURCES].nc.publish(subjects.GATEWAY_KEY_REVOKED, str(revoked.id).encode())
    return ep.answer(revoked)


@api.route(
    "POST",
    "/api/v1/auth/token",
    "Exchange your API key for a short-lived access token",
    request=TokenRequest,
    from_body=True,
    response=AccessToken,
    forwarded=False,
    errors={403},
)
async def create_access_token(request: web.Request, ep: Endpoint[TokenRequest, AccessToken]) -> web.Response:
    """A JWT to send as `Authorization: Bearer <token>` instead of the key: the same user, role, plan and scopes,
    checked by the gateway without a database lookup. It lives `expires_in` seconds (at most an hour, never past
    the key's expiry) and stops working when its key is revoked. Only an API key can ask (403 for a token)."""
    caller = context.caller(request)
    spec = await ep.payload(request)
    if caller.token:
        raise Forbidden("an access token cannot make another; ask with your API key")
    token, expires_at = request.app[context.AUTH].token(caller, spec.expires_in)
    seconds = max(0, int((expires_at - datetime.now(UTC)).total_seconds()))
    answer = AccessToken(
        access_token=token,
        expires_in=seconds,
        expires_at=expires_at,
        scopes=sorted(caller.principal.permissions),
    )
    return ep.answer(answer, headers=NO_STORE)
