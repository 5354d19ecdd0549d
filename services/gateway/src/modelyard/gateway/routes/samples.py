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
from modelyard.contracts.permissions import Permission
from modelyard.gateway.endpoints import Api, Endpoint, Link

api = Api("samples")
routes = api.routes
DATASET = {"id": "dataset_id"}
SAMPLE = {"id": "dataset_id", "sample_id": "sample_id"}
BASE = "/api/v1/datasets/{id}/samples"
THE_SAMPLE = {"id": "$response.body#/dataset_id", "sample_id": "$response.body#/id"}
NEXT = {
    "GetSample": Link("get_sample", THE_SAMPLE),
    "LabelSample": Link("update_sample", THE_SAMPLE),
    "ReviewSample": Link("review_sample", THE_SAMPLE),
    "DeleteSample": Link("delete_sample", THE_SAMPLE),
}


@api.route(
    "GET",
    BASE,
    "List a dataset's samples",
    request=SampleQuery,
    permission=Permission.DATASET_READ,
    from_path=DATASET,
    from_query=True,
    response=SampleList,
    links={
        "GetFirstSample": Link("get_sample", {"id": "$request.path.id", "sample_id": "$response.body#/samples/0/id"})
    },
)
async def list_samples(request: web.Request, ep: Endpoint[SampleQuery, SampleList]) -> web.Response:
    return ep.answer(await ep.call(request, subjects.SVC_SAMPLE_LIST))


@api.route(
    "POST",
    BASE,
    "Add a sample whose blob is stored",
    request=SampleCreate,
    permission=Permission.SAMPLE_LABEL,
    from_path=DATASET,
    from_body=True,
    response=Sample,
    status=201,
    errors={409},
    links=NEXT,
)
async def add_sample(request: web.Request, ep: Endpoint[SampleCreate, Sample]) -> web.Response:
    """The blob is named by its sha256 and must already be stored in the organisation (a frame of another dataset,
    say): 422 when it is not, or when a label names a class the dataset does not have."""
    sample = await ep.call(request, subjects.SVC_SAMPLE_ADD)
    return ep.answer(sample, headers={"Location": f"/api/v1/datasets/{sample.dataset_id}/samples/{sample.id}"})


@api.route(
    "GET",
    BASE + "/{sample_id}",
    "Read a sample with its annotations and reviews",
    request=SampleRef,
    permission=Permission.DATASET_READ,
    from_path=SAMPLE,
    response=SampleDetail,
)
async def get_sample(request: web.Request, ep: Endpoint[SampleRef, SampleDetail]) -> web.Response:
    return ep.answer(await ep.call(request, subjects.SVC_SAMPLE_GET))


@api.route(
    "PATCH",
    BASE + "/{sample_id}",
    "Label a sample",
    request=SampleUpdate,
    permission=Permission.SAMPLE_LABEL,
    from_path=SAMPLE,
    from_body=True,
    response=Sample,
    errors={409},
    links=NEXT,
)
async def update_sample(request: web.Request, ep: Endpoint[SampleUpdate, Sample]) -> web.Response:
    """New labels are recorded as the caller's annotation; the sample's labels and agreement follow from all
    annotators' current ones."""
    return ep.answer(await ep.call(request, subjects.SVC_SAMPLE_UPDATE))


@api.route(
    "DELETE",
    BASE + "/{sample_id}",
    "Delete a sample",
    request=SampleRef,
    permission=Permission.DATASET_MANAGE,
    from_path=SAMPLE,
    response=Sample,
    errors={409},
)
async def delete_sample(request: web.Request, ep: Endpoint[SampleRef, Sample]) -> web.Response:
    return ep.answer(await ep.call(request, subjects.SVC_SAMPLE_DELETE))


@api.route(
    "POST",
    BASE + "/{sample_id}/review",
    "Approve or reject a sample",
    request=ReviewCreate,
    permission=Permission.SAMPLE_REVIEW,
    from_path=SAMPLE,
    from_body=True,
    response=Sample,
    errors={409},
    links=NEXT,
)
async def review_sample(request: web.Request, ep: Endpoint[ReviewCreate, Sample]) -> web.Response:
    """A rejection needs a reason."""
    return ep.answer(await ep.call(request, subjects.SVC_SAMPLE_REVIEW))
