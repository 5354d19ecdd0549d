"""Each endpoint is described once, next to its handler: the decorator registers the aiohttp route and keeps the
facts the OpenAPI document is built from (`openapi.py`).

The same facts drive the request: `Endpoint.payload`/`call` gather the payload from exactly the path fields, query
and body the description names, and `answer` uses its status. A document that says one thing while the handler
reads another cannot happen, which is what makes the document safe to test a live gateway against.

    api = Api("datasets")

    @api.route("POST", "/api/v1/datasets", "Create a dataset", request=DatasetCreate, from_body=True,
               response=Dataset, status=201, errors={409},
               links={"GetDataset": Link("get_dataset", {"id": "$response.body#/id"})})
    async def create_dataset(request: web.Request, ep: Endpoint[DatasetCreate, Dataset]) -> web.Response:
        return ep.answer(await ep.call(request, subjects.SVC_DATASET_CREATE))
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from aiohttp import web
from pydantic import BaseModel

from modelyard.contracts.permissions import Permission
from modelyard.gateway import context, forward
from modelyard.runtime.access import require

P = TypeVar("P", bound=BaseModel)
R = TypeVar("R", bound=BaseModel)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_PARAMETER = re.compile(r"{([_a-zA-Z][_a-zA-Z0-9]*)}")
JSON = "application/json"
BINARY = "application/octet-stream"
ERROR_STATUSES = frozenset({400, 401, 403, 404, 405, 409, 411, 413, 422, 429, 503})


@dataclass(frozen=True)
class Link:
    """An OpenAPI link: once the operation answers, `operation` (an operationId) can be called with values taken
    from the answer (runtime expressions such as `$response.body#/id`); stateful tests walk these."""

    operation: str
    parameters: Mapping[str, str] = field(default_factory=dict)
    request_body: Mapping[str, Any] | None = None
    description: str = ""


@dataclass(frozen=True, kw_only=True)
class Endpoint(Generic[P, R]):
    """What one route takes and answers. `request` is the contract model its payload validates against; its fields
    come from the URL (`from_path`: URL name → field), the query string, the JSON body, or are `fixed` by the route."""

    method: str
    path: str
    operation_id: str
    tag: str
    summary: str
    request: type[P]
    description: str | None = None
    response: type[R] | None = None
    status: int = 200
    from_path: Mapping[str, str] = field(default_factory=dict)
    from_query: bool = False
    from_body: bool = False
    fixed: Mapping[str, Any] = field(default_factory=dict)
    public: bool = False
    permission: Permission | None = None
    forwarded: bool = True
    errors: frozenset[int] = frozenset()
    also: Mapping[int, str] = field(default_factory=dict)
    links: Mapping[str, Link] = field(default_factory=dict)
    parameters: tuple[Mapping[str, Any], ...] = ()
    body_content: str = JSON
    content_type: str = JSON
    response_schema: Mapping[str, Any] | None = None

    @property
    def error_statuses(self) -> frozenset[int]:
        """The problems this endpoint can answer: the ones named, plus those that follow from its shape."""
        implied = set(self.errors)
        if not self.public:
            implied |= {401, 429}  # 429: the key's request rate
            if self.permission is not None:
                implied.add(403)  # a role without the permission, or a key whose scopes leave it out
        if self.from_path or self.from_query or self.from_body or self.parameters:
            implied.add(422)
        if self.from_path:
            implied.add(404)
        if self.from_body:
            implied |= {400, 413}
        if self.forwarded:
            implied.add(503)
        return frozenset(implied)

    async def payload(self, request: web.Request) -> P:
        """The request model, from the described sources only (422 with per-field errors)."""
        return await forward.payload(
            request,
            self.request,
            path=dict(self.from_path),
            use_body=self.from_body,
            use_query=self.from_query,
            fixed=dict(self.fixed),
        )

    async def call(self, request: web.Request, subject: str, *, timeout_s: float | None = None) -> R:
        """Validate the payload and ask the owning service; its ProblemDetails pass through unchanged."""
        if self.response is None:
            raise TypeError(f"{self.operation_id} describes no response model to call a service with")
        return await forward.call(
            request,
            subject,
            self.request,
            self.response,
            timeout_s=timeout_s,
            path=dict(self.from_path),
            use_body=self.from_body,
            use_query=self.from_query,
            fixed=dict(self.fixed),
        )

    def answer(self, result: R, status: int | None = None, headers: dict[str, str] | None = None) -> web.Response:
        status = status or self.status
        if status != self.status and status not in self.also:
            raise ValueError(f"{self.operation_id} does not describe status {status}")
        return forward.answer(result, status, headers)


Described = Callable[[web.Request, Endpoint[P, R]], Awaitable[web.StreamResponse]]


class Api:
    """The endpoints of one route module: `routes` for `app.add_routes`, `endpoints` for the document."""

    def __init__(self, tag: str, *, literal: Collection[str] = ()) -> None:
        """`literal`: paths of this module that sit where a `{parameter}` could match them (`/devices/enroll`
        beside `/devices/{id}`). The parameter never matches them, so every method on such a path is answered by
        its own route (405 with its own `Allow`), not by `/devices/{id}` with "id is not a UUID"."""
        self.tag = tag
        self.routes = web.RouteTableDef()
        self.endpoints: list[Endpoint[Any, Any]] = []
        self._literal = [path.split("/") for path in literal]

    def route(
        self,
        method: str,
        path: str,
        summary: str,
        *,
        request: type[P],
        response: type[R] | None = None,
        status: int = 200,
        from_path: Mapping[str, str] | None = None,
        from_query: bool = False,
        from_body: bool = False,
        fixed: Mapping[str, Any] | None = None,
        public: bool = False,
        permission: Permission | None = None,
        forwarded: bool = True,
        errors: Collection[int] = (),
        also: Mapping[int, str] | None = None,
        links: Mapping[str, Link] | None = None,
        parameters: tuple[Mapping[str, Any], ...] = (),
        body_content: str = JSON,
        content_type: str = JSON,
        response_schema: Mapping[str, Any] | None = None,
        operation_id: str | None = None,
    ) -> Callable[[Described[P, R]], Handler]:
        """Describe one endpoint and register its handler, which gets the request and this description.

        `permission`: what the caller must hold (the matrix in `modelyard.contracts.permissions`); checked here,
        before anything is read or forwarded, and again by the service the handler asks. Every endpoint that is
        not `public` names one, except the few any signed-in caller may use (`/me`, tokens).
        `forwarded`: the handler asks a service (so it can answer 503). `also`: other success statuses with the
        same body, and when. `parameters`, `body_content`, `response_schema`: for what no model says (a header,
        a binary body, a text answer)."""
        unknown = set(errors) - ERROR_STATUSES
        if unknown:
            raise ValueError(f"{method} {path}: no problem response is described for {sorted(unknown)}")

        def register(fn: Described[P, R]) -> Handler:
            endpoint: Endpoint[P, R] = Endpoint(
                method=method.upper(),
                path=path,
                operation_id=operation_id or fn.__name__,
                tag=self.tag,
                summary=summary,
                description=inspect.getdoc(fn),
                request=request,
                response=response,
                status=status,
                from_path=dict(from_path or {}),
                from_query=from_query,
                from_body=from_body,
                fixed=dict(fixed or {}),
                public=public,
                permission=permission,
                forwarded=forwarded,
                errors=frozenset(errors),
                also=dict(also or {}),
                links=dict(links or {}),
                parameters=parameters,
                body_content=body_content,
                content_type=content_type,
                response_schema=response_schema,
            )

            async def handle(request: web.Request) -> web.StreamResponse:
                if permission is not None:
                    require(context.principal(request), permission)
                return await fn(request, endpoint)

            handle.__name__ = handle.__qualname__ = endpoint.operation_id
            handle.__doc__ = fn.__doc__
            self.routes.route(endpoint.method, self._aiohttp_path(path))(handle)
            self.endpoints.append(endpoint)
            return handle

        return register

    def _aiohttp_path(self, path: str) -> str:
        """`path` for aiohttp: a parameter segment that a literal path could fill excludes that literal."""
        segments = path.split("/")
        for i, segment in enumerate(segments):
            name = _PARAMETER.fullmatch(segment)
            words = sorted({lit[i] for lit in self._literal if len(lit) > i and lit[:i] == segments[:i]})
            if name and words:
                taken = "|".join(re.escape(word) for word in words)
                segments[i] = f"{{{name.group(1)}:(?!(?:{taken})(?![^/]))[^/]+}}"
        return "/".join(segments)
