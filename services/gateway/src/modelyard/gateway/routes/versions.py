"""Dataset versions: publish (201 new, 200 when the same content was published before), list, read, export."""

from __future__ import annotations

from aiohttp import web

from modelyard.contracts import subjects
from modelyard.contracts.api.versions import (
    DatasetRef,
    DatasetVersion,
    ExportLink,
    VersionCreate,
    VersionList,
    VersionRef,
)
from modelyard.gateway.forward import answer, call

routes = web.RouteTableDef()
DATASET = {"id": "dataset_id"}
VERSION = {"id": "dataset_id", "version": "version"}
BASE = "/api/v1/datasets/{id}/versions"


@routes.post(BASE)
async def publish(request: web.Request) -> web.Response:
    version = await call(
        request, subjects.SVC_VERSION_PUBLISH, VersionCreate, DatasetVersion, path=DATASET, use_body=True, timeout_s=120
    )
    location = {"Location": f"/api/v1/datasets/{version.dataset_id}/versions/{version.version}"}
    return answer(version, 201 if version.created else 200, location)


@routes.get(BASE)
async def list_versions(request: web.Request) -> web.Response:
    return answer(await call(request, subjects.SVC_VERSION_LIST, DatasetRef, VersionList, path=DATASET))


@routes.get(BASE + "/{version}")
async def get_version(request: web.Request) -> web.Response:
    return answer(await call(request, subjects.SVC_VERSION_GET, VersionRef, DatasetVersion, path=VERSION))


@routes.get(BASE + "/{version}/export")
async def export(request: web.Request) -> web.StreamResponse:
    """A presigned link to the version as an Ultralytics dataset zip; `?redirect=true` answers 302 to it."""
    link = await call(request, subjects.SVC_VERSION_EXPORT, VersionRef, ExportLink, path=VERSION, timeout_s=600)
    if request.query.get("redirect", "").lower() in ("1", "true", "yes"):
        raise web.HTTPFound(link.url)
    return answer(link)
