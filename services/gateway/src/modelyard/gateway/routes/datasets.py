"""Datasets, validated here for a fast, precise 4xx, then handed to the dataset service over NATS."""

from __future__ import annotations

from aiohttp import web

from modelyard.contracts import subjects
from modelyard.contracts.api.datasets import (
    Dataset,
    DatasetCreate,
    DatasetGet,
    DatasetList,
    DatasetQuery,
    DatasetStats,
    DatasetUpdate,
)
from modelyard.contracts.permissions import Permission
from modelyard.gateway.endpoints import Api, Endpoint, Link

api = Api("datasets")
routes = api.routes
ID = {"id": "id"}
BASE = "/api/v1/datasets"
THE_DATASET = {"id": "$response.body#/id"}
# what a client does next with a dataset it was just given (stateful tests follow these)
NEXT = {
    "GetDataset": Link("get_dataset", THE_DATASET),
    "UpdateDataset": Link("update_dataset", THE_DATASET),
    "ArchiveDataset": Link("archive_dataset", THE_DATASET),
    "DatasetStats": Link("dataset_stats", THE_DATASET),
    "ListSamples": Link("list_samples", THE_DATASET),
    "PublishVersion": Link("publish", THE_DATASET),
    "ListVersions": Link("list_versions", THE_DATASET),
    "CreateUpload": Link("create_upload", request_body={"dataset_id": "$response.body#/id"}),
}


@api.route(
    "POST",
    BASE,
    "Create a dataset",
    request=DatasetCreate,
    permission=Permission.DATASET_MANAGE,
    from_body=True,
    response=Dataset,
    status=201,
    errors={409},
    links=NEXT,
)
async def create_dataset(request: web.Request, ep: Endpoint[DatasetCreate, Dataset]) -> web.Response:
    """409 when the organisation already has a dataset of that name."""
    dataset = await ep.call(request, subjects.SVC_DATASET_CREATE)
    return ep.answer(dataset, headers={"Location": f"{BASE}/{dataset.id}"})


@api.route(
    "GET",
    BASE,
    "List datasets",
    request=DatasetQuery,
    permission=Permission.DATASET_READ,
    from_query=True,
    response=DatasetList,
    links={"GetFirstDataset": Link("get_dataset", {"id": "$response.body#/datasets/0/id"})},
)
async def list_datasets(request: web.Request, ep: Endpoint[DatasetQuery, DatasetList]) -> web.Response:
    return ep.answer(await ep.call(request, subjects.SVC_DATASET_LIST))


@api.route(
    "GET",
    BASE + "/{id}",
    "Read a dataset",
    request=DatasetGet,
    permission=Permission.DATASET_READ,
    from_path=ID,
    response=Dataset,
    links=NEXT,
)
async def get_dataset(request: web.Request, ep: Endpoint[DatasetGet, Dataset]) -> web.Response:
    return ep.answer(await ep.call(request, subjects.SVC_DATASET_GET))


@api.route(
    "PATCH",
    BASE + "/{id}",
    "Change a dataset",
    request=DatasetUpdate,
    permission=Permission.DATASET_MANAGE,
    from_path=ID,
    from_body=True,
    response=Dataset,
    errors={409},
    links=NEXT,
)
async def update_dataset(request: web.Request, ep: Endpoint[DatasetUpdate, Dataset]) -> web.Response:
    """Only the fields given change. Class names may only grow (labels refer to them by index): a shorter list is
    422. 409 for a name another dataset has, or any change to an archived dataset."""
    return ep.answer(await ep.call(request, subjects.SVC_DATASET_UPDATE))


@api.route(
    "POST",
    BASE + "/{id}/archive",
    "Archive a dataset",
    request=DatasetUpdate,
    permission=Permission.DATASET_MANAGE,
    from_path=ID,
    fixed={"status": "archived"},
    response=Dataset,
    errors={409},
)
async def archive_dataset(request: web.Request, ep: Endpoint[DatasetUpdate, Dataset]) -> web.Response:
    return ep.answer(await ep.call(request, subjects.SVC_DATASET_UPDATE))


@api.route(
    "GET",
    BASE + "/{id}/stats",
    "Counts and class balance",
    request=DatasetGet,
    permission=Permission.DATASET_READ,
    from_path=ID,
    response=DatasetStats,
)
async def dataset_stats(request: web.Request, ep: Endpoint[DatasetGet, DatasetStats]) -> web.Response:
    return ep.answer(await ep.call(request, subjects.SVC_DATASET_STATS))
