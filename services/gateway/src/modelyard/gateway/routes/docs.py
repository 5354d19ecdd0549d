"""The API's own description: OpenAPI 3.1 at `/api/v1/openapi.json`, the events' AsyncAPI at
`/api/v1/asyncapi.json`, and a readable page of both at `/api/docs`. All public: a client reads them before it has
a key. Built once, when the app is made (`publish`), from the endpoints every route module describes."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from importlib.metadata import version
from typing import Any

from aiohttp import web

from modelyard.contracts.api.paging import NoQuery
from modelyard.gateway import asyncapi, docs_page, openapi
from modelyard.gateway.endpoints import Api, Endpoint

api = Api("docs")
routes = api.routes
OPENAPI_PATH = "/api/v1/openapi.json"
ASYNCAPI_PATH = "/api/v1/asyncapi.json"
DOCS_PATH = "/api/docs"
TITLE = "Modelyard API"
DESCRIPTION = (
    "Labeled data to signed models on edge devices. Every error is RFC 9457 `application/problem+json` with a "
    "`correlation_id` (also in the `X-Correlation-Id` header; send your own to trace a call). Not described here: "
    "the WebSocket `GET /ws/training/{job_id}` (the same messages as the SSE `.../events`); the events the services "
    "exchange are in the AsyncAPI document at " + ASYNCAPI_PATH + ". Text may not contain NUL (\\u0000) characters."
)
JSON_OBJECT = {"type": "object"}


@dataclass(frozen=True)
class Published:
    openapi: bytes
    asyncapi: bytes
    page: str


PUBLISHED = web.AppKey("published_docs", Published)


def publish(app: web.Application, endpoints: Iterable[Endpoint[Any, Any]]) -> dict[str, Any]:
    """Build the documents from the app's endpoints (these three among them) and keep them on the app."""
    document = openapi.build(endpoints, title=TITLE, version=version("modelyard-gateway"), description=DESCRIPTION)
    app[PUBLISHED] = Published(
        openapi=json.dumps(document).encode(),
        asyncapi=json.dumps(asyncapi.document()).encode(),
        page=docs_page.render(document, openapi_url=OPENAPI_PATH, asyncapi_url=ASYNCAPI_PATH),
    )
    return document


@api.route(
    "GET",
    OPENAPI_PATH,
    "This API as OpenAPI 3.1",
    request=NoQuery,
    response_schema=JSON_OBJECT,
    public=True,
    forwarded=False,
)
async def openapi_document(request: web.Request, ep: Endpoint[NoQuery, Any]) -> web.Response:
    return web.Response(body=request.app[PUBLISHED].openapi, content_type="application/json")


@api.route(
    "GET",
    ASYNCAPI_PATH,
    "The events the services exchange, as AsyncAPI 3.0",
    request=NoQuery,
    response_schema=JSON_OBJECT,
    public=True,
    forwarded=False,
)
async def asyncapi_document(request: web.Request, ep: Endpoint[NoQuery, Any]) -> web.Response:
    """The document `make contracts` writes to proto/asyncapi.json, with each event's schema inlined."""
    return web.Response(body=request.app[PUBLISHED].asyncapi, content_type="application/json")


@api.route(
    "GET",
    DOCS_PATH,
    "This page: the API, readable",
    request=NoQuery,
    content_type="text/html",
    response_schema={"type": "string"},
    public=True,
    forwarded=False,
)
async def docs(request: web.Request, ep: Endpoint[NoQuery, Any]) -> web.Response:
    return web.Response(text=request.app[PUBLISHED].page, content_type="text/html")
