"""Who is calling: API keys (looked up in PostgreSQL, remembered for `key_cache_s`) and short-lived access tokens
(JWT, HS256, checked without any lookup), and each key's request rate.

A token is minted from an API key (`POST /api/v1/auth/token`) and carries the key's principal: org, user, role,
plan and scopes, and the key's id. Revoking the key refuses its tokens at once on every replica: the revoking
gateway publishes a notice on core NATS, each replica remembers revoked key ids for as long as a token can live,
and a starting replica loads the recent ones from the database.
"""

from __future__ import annotations

import math
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt

from modelyard.contracts import plans
from modelyard.contracts.api.identity import Permission, Principal, Role
from modelyard.contracts.plans import Plan
from modelyard.gateway import keys
from modelyard.gateway.repository import IdentityRepository
from modelyard.runtime.problems import Unauthorized

ISSUER = "modelyard"
ALGORITHM = "HS256"
MAX_TOKEN_S = 3600
_MAX_CACHED = 10_000


@dataclass(frozen=True, slots=True)
class Caller:
    principal: Principal
    key_id: uuid.UUID
    expires_at: datetime | None  # the key's, or the token's
    token: bool  # authenticated with an access token rather than the key itself


class Authenticator:
    def __init__(self, identity: IdentityRepository, *, secret: bytes | None, cache_s: float) -> None:
        self._identity = identity
        self._secret = secret or secrets.token_bytes(32)
        self._cache_s = cache_s
        self._cached: dict[str, tuple[float, Caller]] = {}  # key digest → (until, caller)
        self._revoked: dict[uuid.UUID, float] = {}  # key id → monotonic time after which its tokens are expired

    async def caller(self, credential: str) -> Caller:
        if keys.looks_like_key(credential):
            return self._live(await self._key(credential))
        if credential.count(".") == 2:
            return self._from_token(credential)
        raise Unauthorized("send 'Authorization: Bearer <api key or access token>'")

    async def _key(self, key: str) -> Caller:
        digest = keys.digest(key)
        now = time.monotonic()
        hit = self._cached.get(digest)
        if hit is not None and hit[0] > now:
            return hit[1]
        record = await self._identity.key_for(key)
        if record is None:
            self._cached.pop(digest, None)
            raise Unauthorized("the API key is unknown or revoked")
        caller = Caller(record.principal, record.id, record.expires_at, token=False)
        if self._cache_s > 0:
            if len(self._cached) >= _MAX_CACHED:
                self._cached.clear()
            self._cached[digest] = (now + self._cache_s, caller)
        return caller

    @staticmethod
    def _live(caller: Caller) -> Caller:
        if caller.expires_at is not None and caller.expires_at <= datetime.now(UTC):
            raise Unauthorized(f"the API key expired at {caller.expires_at.isoformat()}")
        return caller

    def revoked(self, key_id: uuid.UUID) -> None:
        """Forget the key and refuse its tokens from now on (called here and on every replica's notice)."""
        self._cached = {d: (until, c) for d, (until, c) in self._cached.items() if c.key_id != key_id}
        now = time.monotonic()
        self._revoked = {k: until for k, until in self._revoked.items() if until > now}
        self._revoked[key_id] = now + MAX_TOKEN_S

    def token(self, caller: Caller, expires_in: int) -> tuple[str, datetime]:
        """An access token for a caller that authenticated with its key, never outliving the key."""
        now = datetime.now(UTC)
        expires = now + timedelta(seconds=min(expires_in, MAX_TOKEN_S))
        if caller.expires_at is not None:
            expires = min(expires, caller.expires_at)
        p = caller.principal
        claims = {
            "iss": ISSUER,
            "sub": str(p.user_id),
            "org": str(p.org_id),
            "role": p.role.value,
            "plan": p.plan.value,
            "scopes": None if p.scopes is None else sorted(s.value for s in p.scopes),
            "key": str(caller.key_id),
            "iat": now,
            "exp": expires,
            "jti": uuid.uuid4().hex,
        }
        return jwt.encode(claims, self._secret, algorithm=ALGORITHM), expires

    def _from_token(self, token: str) -> Caller:
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=[ALGORITHM],
                issuer=ISSUER,
                options={"require": ["exp", "iat", "sub", "org", "role", "plan", "key"]},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthorized("the access token has expired; ask for a new one with your API key") from None
        except jwt.InvalidTokenError:
            raise Unauthorized("the access token is not valid here") from None
        try:
            key_id = uuid.UUID(claims["key"])
            scopes = claims.get("scopes")
            principal = Principal(
                org_id=uuid.UUID(claims["org"]),
                user_id=uuid.UUID(claims["sub"]),
                role=Role(claims["role"]),
                plan=Plan(claims["plan"]),
                scopes=None if scopes is None else frozenset(Permission(s) for s in scopes),
            )
        except (ValueError, TypeError):
            raise Unauthorized("the access token is not valid here") from None
        if self._revoked.get(key_id, 0.0) > time.monotonic():
            raise Unauthorized("the API key this token was issued for has been revoked")
        return Caller(principal, key_id, datetime.fromtimestamp(claims["exp"], UTC), token=True)


class RateLimiter:
    """A token bucket per API key (its access tokens share it): the plan's `requests_per_s`, up to `burst` at
    once, both times `scale`. `take` answers how many seconds to wait when the bucket is empty."""

    def __init__(self, scale: float) -> None:
        self._scale = scale
        self._buckets: dict[uuid.UUID, tuple[float, float]] = {}  # key id → (tokens, at)

    def take(self, key_id: uuid.UUID, plan: Plan) -> int | None:
        if self._scale <= 0:
            return None
        limits = plans.limits(plan)
        rate, burst = limits.requests_per_s * self._scale, limits.burst * self._scale
        now = time.monotonic()
        tokens, at = self._buckets.get(key_id, (burst, now))
        tokens = min(burst, tokens + (now - at) * rate)
        if tokens >= 1.0:
            if len(self._buckets) >= _MAX_CACHED:
                self._buckets.clear()
            self._buckets[key_id] = (tokens - 1.0, now)
            return None
        self._buckets[key_id] = (tokens, now)
        return max(1, math.ceil((1.0 - tokens) / rate))
