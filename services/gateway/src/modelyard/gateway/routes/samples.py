"""Samples of a dataset: list, add, read, label, delete, review."""

from __future__ import annotations

from aiohttp import web

from modelyard.contracts import subjects
from modelyard.contracts.api.samples import (
    ReviewCreate,
    Sample,
    SampleCreate,
    SampleDetail,
    SampleList,
    SampleQuery,
    SampleRef,
    SampleUpdate,
)
from modelyard.gateway.forward import answer, call

routes = web.RouteTableDef()
DATASET = {"id": "dataset_id"}
SAMPLE = {"id": "dataset_id", "sample_id": "sample_id"}
BASE = "/api/v1/datasets/{id}/samples"


@routes.get(BASE)
async def list_samples(request: web.Request) -> web.Response:
    return answer(await call(request, subjects.SVC_SAMPLE_LIST, SampleQuery, SampleList, path=DATASET, use_query=True))


@routes.post(BASE)
async def add_sample(request: web.Request) -> web.Response:
    sample = await call(request, subjects.SVC_SAMPLE_ADD, SampleCreate, Sample, path=DATASET, use_body=True)
    return answer(sample, 201, {"Location": f"/api/v1/datasets/{sample.dataset_id}/samples/{sample.id}"})


@routes.get(BASE + "/{sample_id}")
async def get_sample(request: web.Request) -> web.Response:
    return answer(await call(request, subjects.SVC_SAMPLE_GET, SampleRef, SampleDetail, path=SAMPLE))


@routes.patch(BASE + "/{sample_id}")
async def update_sample(request: web.Request) -> web.Response:
    return answer(await call(request, subjects.SVC_SAMPLE_UPDATE, SampleUpdate, Sample, path=SAMPLE, use_body=True))


@routes.delete(BASE + "/{sample_id}")
async def delete_sample(request: web.Request) -> web.Response:
    return answer(await call(request, subjects.SVC_SAMPLE_DELETE, SampleRef, Sample, path=SAMPLE))


@routes.post(BASE + "/{sample_id}/review")
async def review_sample(request: web.Request) -> web.Response:
    return answer(await call(request, subjects.SVC_SAMPLE_REVIEW, ReviewCreate, Sample, path=SAMPLE, use_body=True))
