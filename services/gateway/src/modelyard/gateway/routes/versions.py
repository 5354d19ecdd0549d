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
from modelyard.contracts.permissions import Permission
from modelyard.gateway.endpoints import Api, Endpoint, Link

api = Api("versions")
routes = api.routes
DATASET = {"id": "dataset_id"}
VERSION = {"id": "dataset_id", "version": "version"}
BASE = "/api/v1/datasets/{id}/versions"
THE_VERSION = {"id": "$response.body#/dataset_id", "version": "$response.body#/version"}
NEXT = {"GetVersion": Link("get_version", THE_VERSION), "ExportVersion": Link("export", THE_VERSION)}


@api.route(
    "POST",
    BASE,
    "Publish a version",
    request=VersionCreate,
    permission=Permission.DATASET_MANAGE,
    from_path=DATASET,
    from_body=True,
    response=DatasetVersion,
    status=201,
    also={200: "The same content was published before: that version, with `created` false"},
    errors={409},
    links=NEXT,
)
async def publish(request: web.Request, ep: Endpoint[VersionCreate, DatasetVersion]) -> web.Response:
    """An immutable, content-addressed version of the samples `include` selects, split by `val_fraction` and
    `seed`. 409 when nothing would be in it."""
    version = await ep.call(request, subjects.SVC_VERSION_PUBLISH, timeout_s=120)
    location = {"Location": f"/api/v1/datasets/{version.dataset_id}/versions/{version.version}"}
    return ep.answer(version, 201 if version.created else 200, location)


@api.route(
    "GET",
    BASE,
    "List a dataset's versions",
    request=DatasetRef,
    permission=Permission.DATASET_READ,
    from_path=DATASET,
    response=VersionList,
)
async def list_versions(request: web.Request, ep: Endpoint[DatasetRef, VersionList]) -> web.Response:
    return ep.answer(await ep.call(request, subjects.SVC_VERSION_LIST))


@api.route(
    "GET",
    BASE + "/{version}",
    "Read a version",
    request=VersionRef,
    permission=Permission.DATASET_READ,
    from_path=VERSION,
    response=DatasetVersion,
)
async def get_version(request: web.Request, ep: Endpoint[VersionRef, DatasetVersion]) -> web.Response:
    return ep.answer(await ep.call(request, subjects.SVC_VERSION_GET))


@api.route(
    "GET",
    BASE + "/{version}/export",
    "Export a version as an Ultralytics dataset",
    request=VersionRef,
    permission=Permission.DATASET_READ,
    from_path=VERSION,
    response=ExportLink,
    also={302: "`redirect=true`: to the presigned link"},
    parameters=(
        {
            "name": "redirect",
            "in": "query",
            "required": False,
            "description": "answer 302 to the link instead of the link",
            "schema": {"type": "boolean", "default": False},
        },
    ),
)
async def export(request: web.Request, ep: Endpoint[VersionRef, ExportLink]) -> web.StreamResponse:
    """A presigned link to the version as an Ultralytics dataset zip; `?redirect=true` answers 302 to it."""
    link = await ep.call(request, subjects.SVC_VERSION_EXPORT, timeout_s=600)
    if request.query.get("redirect", "").lower() in ("1", "true", "yes"):
        raise web.HTTPFound(link.url)
    return ep.answer(link)
