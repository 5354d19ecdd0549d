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
from modelyard.gateway.forward import answer, call

routes = web.RouteTableDef()
ID = {"id": "id"}


@routes.post("/api/v1/datasets")
async def create_dataset(request: web.Request) -> web.Response:
    dataset = await call(request, subjects.SVC_DATASET_CREATE, DatasetCreate, Dataset, use_body=True)
    return answer(dataset, 201, {"Location": f"/api/v1/datasets/{dataset.id}"})


@routes.get("/api/v1/datasets")
async def list_datasets(request: web.Request) -> web.Response:
    return answer(await call(request, subjects.SVC_DATASET_LIST, DatasetQuery, DatasetList, use_query=True))


@routes.get("/api/v1/datasets/{id}")
async def get_dataset(request: web.Request) -> web.Response:
    return answer(await call(request, subjects.SVC_DATASET_GET, DatasetGet, Dataset, path=ID))


@routes.patch("/api/v1/datasets/{id}")
async def update_dataset(request: web.Request) -> web.Response:
    return answer(await call(request, subjects.SVC_DATASET_UPDATE, DatasetUpdate, Dataset, path=ID, use_body=True))


@routes.post("/api/v1/datasets/{id}/archive")
async def archive_dataset(request: web.Request) -> web.Response:
    fixed = {"status": "archived"}
    return answer(await call(request, subjects.SVC_DATASET_UPDATE, DatasetUpdate, Dataset, path=ID, fixed=fixed))


@routes.get("/api/v1/datasets/{id}/stats")
async def dataset_stats(request: web.Request) -> web.Response:
    return answer(await call(request, subjects.SVC_DATASET_STATS, DatasetGet, DatasetStats, path=ID))
