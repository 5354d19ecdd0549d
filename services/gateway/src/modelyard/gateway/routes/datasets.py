"""Datasets: validated here for a fast, precise 4xx, then handed to the dataset service over NATS."""

from __future__ import annotations

import uuid

from aiohttp import web

from modelyard.contracts import subjects
from modelyard.contracts.api.datasets import Dataset, DatasetCreate, DatasetGet
from modelyard.contracts.api.problems import FieldError
from modelyard.gateway import body, context
from modelyard.runtime.problems import InvalidInput

routes = web.RouteTableDef()


def _uuid(request: web.Request, name: str) -> uuid.UUID:
    try:
        return uuid.UUID(request.match_info[name])
    except ValueError:
        raise InvalidInput(
            f"{name} is not a UUID",
            errors=[FieldError(field=name, message="must be a UUID", code="uuid_parsing")],
        ) from None


@routes.post("/api/v1/datasets")
async def create_dataset(request: web.Request) -> web.Response:
    spec = await body.read(request, DatasetCreate)
    dataset = await request.app[context.RPC].call(
        subjects.SVC_DATASET_CREATE,
        context.principal(request),
        spec,
        context.correlation_id(request),
        Dataset,
    )
    return web.json_response(
        dataset.model_dump(mode="json"), status=201, headers={"Location": f"/api/v1/datasets/{dataset.id}"}
    )


@routes.get("/api/v1/datasets/{id}")
async def get_dataset(request: web.Request) -> web.Response:
    query = DatasetGet(id=_uuid(request, "id"))
    dataset = await request.app[context.RPC].call(
        subjects.SVC_DATASET_GET, context.principal(request), query, context.correlation_id(request), Dataset
    )
    return web.json_response(dataset.model_dump(mode="json"))
