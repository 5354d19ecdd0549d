"""The model registry: versions, their lifecycle, signed releases, rollback, default models (owned by the registry)."""

from __future__ import annotations

from aiohttp import web

from modelyard.contracts import subjects
from modelyard.contracts.api.models import (
    CompareQuery,
    Comparison,
    Lineage,
    ModelAction,
    ModelList,
    ModelQuery,
    ModelRef,
    ModelTransition,
    ModelUpdate,
    ModelVersion,
    ModuleList,
    ModuleRef,
    RegistrySettings,
    Release,
    ReleaseDownload,
    ReleaseRequest,
    SigningKeys,
    Transition,
)
from modelyard.contracts.api.paging import NoQuery
from modelyard.contracts.permissions import Permission
from modelyard.gateway.endpoints import Api, Endpoint, Link

api = Api("models", literal=("/api/v1/models/compare",))
routes = api.routes
MODEL = {"id": "id"}
BASE = "/api/v1/models"
THE_MODEL = {"id": "$response.body#/id"}
NEXT = {
    "GetModel": Link("get_model", THE_MODEL),
    "ModelLineage": Link("model_lineage", THE_MODEL),
    "ModelRelease": Link("model_release", THE_MODEL),
    "UpdateModel": Link("update_model", THE_MODEL),
    **{f"{step.value.capitalize()}Model": Link(f"{step.value}_model", THE_MODEL) for step in Transition},
    "ReleaseModel": Link("release_model", THE_MODEL),
}
THE_RELEASED = {"id": "$response.body#/model_id"}
RELEASED = {"GetReleasedModel": Link("get_model", THE_RELEASED), "GetRelease": Link("model_release", THE_RELEASED)}
LIFECYCLE_ERRORS = {409}  # a step that does not fit the version's status


@api.route(
    "GET",
    BASE,
    "List model versions",
    request=ModelQuery,
    permission=Permission.MODEL_READ,
    from_query=True,
    response=ModelList,
    links={"GetFirstModel": Link("get_model", {"id": "$response.body#/models/0/id"})},
)
async def list_models(request: web.Request, ep: Endpoint[ModelQuery, ModelList]) -> web.Response:
    return ep.answer(await ep.call(request, subjects.SVC_MODEL_LIST))


@api.route(
    "GET",
    BASE + "/compare",
    "Compare two versions' metrics",
    request=CompareQuery,
    permission=Permission.MODEL_READ,
    from_query=True,
    response=Comparison,
    errors={404},
)
async def compare_models(request: web.Request, ep: Endpoint[CompareQuery, Comparison]) -> web.Response:
    return ep.answer(await ep.call(request, subjects.SVC_MODEL_COMPARE))


@api.route(
    "GET",
    BASE + "/{id}",
    "Read a model version",
    request=ModelRef,
    permission=Permission.MODEL_READ,
    from_path=MODEL,
    response=ModelVersion,
)
async def get_model(request: web.Request, ep: Endpoint[ModelRef, ModelVersion]) -> web.Response:
    return ep.answer(await ep.call(request, subjects.SVC_MODEL_GET))


@api.route(
    "PATCH",
    BASE + "/{id}",
    "Change a version's notes",
    request=ModelUpdate,
    permission=Permission.MODEL_EDIT,
    from_path=MODEL,
    from_body=True,
    response=ModelVersion,
    links=NEXT,
)
async def update_model(request: web.Request, ep: Endpoint[ModelUpdate, ModelVersion]) -> web.Response:
    return ep.answer(await ep.call(request, subjects.SVC_MODEL_UPDATE))


_TRANSITIONS = {
    Transition.TEST: "Move a draft to testing",
    Transition.APPROVE: "Approve a version (admins; four eyes: not the job's submitter)",
    Transition.REJECT: "Reject a version (admins)",
    Transition.DEPRECATE: "Deprecate a version (admins)",
}


def _transition(step: Transition) -> None:
    async def handle(request: web.Request, ep: Endpoint[ModelTransition, ModelVersion]) -> web.Response:
        return ep.answer(await ep.call(request, subjects.SVC_MODEL_TRANSITION))

    api.route(
        "POST",
        f"{BASE}/{{id}}/{step.value}",
        _TRANSITIONS[step],
        request=ModelTransition,
        permission=Permission.MODEL_EDIT if step is Transition.TEST else Permission.MODEL_APPROVE,
        from_path=MODEL,
        from_body=True,
        fixed={"transition": step.value},
        response=ModelVersion,
        errors=LIFECYCLE_ERRORS,
        links=NEXT,
        operation_id=f"{step.value}_model",
    )(handle)


for _step in Transition:
    _transition(_step)


@api.route(
    "POST",
    BASE + "/{id}/release",
    "Sign and release an approved version",
    request=ReleaseRequest,
    permission=Permission.MODEL_APPROVE,
    from_path=MODEL,
    from_body=True,
    response=Release,
    status=201,
    errors=LIFECYCLE_ERRORS,
    links=RELEASED,
)
async def release_model(request: web.Request, ep: Endpoint[ReleaseRequest, Release]) -> web.Response:
    """Stored under the module's next release counter, signed with the registry's key."""
    release = await ep.call(request, subjects.SVC_MODEL_RELEASE)
    return ep.answer(release, headers={"Location": f"{BASE}/{release.model_id}/release"})


@api.route(
    "POST",
    BASE + "/{id}/rollback",
    "Release an earlier version again",
    request=ModelAction,
    permission=Permission.MODEL_APPROVE,
    from_path=MODEL,
    from_body=True,
    response=Release,
    status=201,
    errors=LIFECYCLE_ERRORS,
    links=RELEASED,
)
async def rollback_model(request: web.Request, ep: Endpoint[ModelAction, Release]) -> web.Response:
    """A new, higher-counter release of the version's artifacts."""
    release = await ep.call(request, subjects.SVC_MODEL_ROLLBACK)
    return ep.answer(release, headers={"Location": f"{BASE}/{release.model_id}/release"})


@api.route(
    "POST",
    BASE + "/{id}/default",
    "Make a version its module's default",
    request=ModelAction,
    permission=Permission.MODEL_APPROVE,
    from_path=MODEL,
    from_body=True,
    response=ModelVersion,
    errors=LIFECYCLE_ERRORS,
)
async def set_default_model(request: web.Request, ep: Endpoint[ModelAction, ModelVersion]) -> web.Response:
    return ep.answer(await ep.call(request, subjects.SVC_MODEL_SET_DEFAULT))


@api.route(
    "GET",
    BASE + "/{id}/lineage",
    "What made a version",
    request=ModelRef,
    permission=Permission.MODEL_READ,
    from_path=MODEL,
    response=Lineage,
)
async def model_lineage(request: web.Request, ep: Endpoint[ModelRef, Lineage]) -> web.Response:
    """Job, attempt, dataset version and manifest sha256, config and its sha256, base version, trainer and
    framework versions."""
    return ep.answer(await ep.call(request, subjects.SVC_MODEL_LINEAGE))


@api.route(
    "GET",
    BASE + "/{id}/release",
    "A version's latest release, with download links",
    request=ModelRef,
    permission=Permission.MODEL_READ,
    from_path=MODEL,
    response=ReleaseDownload,
)
async def model_release(request: web.Request, ep: Endpoint[ModelRef, ReleaseDownload]) -> web.Response:
    """404 when the version was never released."""
    return ep.answer(await ep.call(request, subjects.SVC_MODEL_RELEASE_GET))


@api.route(
    "GET",
    "/api/v1/registry/modules",
    "Modules and their releases",
    request=NoQuery,
    permission=Permission.MODEL_READ,
    response=ModuleList,
)
async def list_modules(request: web.Request, ep: Endpoint[NoQuery, ModuleList]) -> web.Response:
    return ep.answer(await ep.call(request, subjects.SVC_MODULE_LIST))


@api.route(
    "POST",
    "/api/v1/registry/modules/{ai_module}/revert",
    "Release a module's default version again",
    request=ModuleRef,
    permission=Permission.MODEL_APPROVE,
    from_path={"ai_module": "ai_module"},
    from_body=True,
    response=Release,
    status=201,
    errors=LIFECYCLE_ERRORS,
    links=RELEASED,
)
async def revert_module(request: web.Request, ep: Endpoint[ModuleRef, Release]) -> web.Response:
    return ep.answer(await ep.call(request, subjects.SVC_MODULE_REVERT))


@api.route(
    "GET",
    "/api/v1/registry/keys",
    "The public signing keys",
    request=NoQuery,
    permission=Permission.MODEL_READ,
    response=SigningKeys,
)
async def signing_keys(request: web.Request, ep: Endpoint[NoQuery, SigningKeys]) -> web.Response:
    return ep.answer(await ep.call(request, subjects.SVC_REGISTRY_KEYS))


@api.route(
    "GET",
    "/api/v1/registry/settings",
    "The organisation's registry settings",
    request=NoQuery,
    permission=Permission.MODEL_READ,
    response=RegistrySettings,
)
async def get_settings(request: web.Request, ep: Endpoint[NoQuery, RegistrySettings]) -> web.Response:
    return ep.answer(await ep.call(request, subjects.SVC_REGISTRY_SETTINGS_GET))


@api.route(
    "PUT",
    "/api/v1/registry/settings",
    "Change the registry settings (admins)",
    request=RegistrySettings,
    permission=Permission.MODEL_APPROVE,
    from_body=True,
    response=RegistrySettings,
)
async def put_settings(request: web.Request, ep: Endpoint[RegistrySettings, RegistrySettings]) -> web.Response:
    return ep.answer(await ep.call(request, subjects.SVC_REGISTRY_SETTINGS_PUT))
