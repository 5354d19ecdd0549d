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
from modelyard.gateway.forward import answer, call

routes = web.RouteTableDef()
MODEL = {"id": "id"}
BASE = "/api/v1/models"


@routes.get(BASE)
async def list_models(request: web.Request) -> web.Response:
    return answer(await call(request, subjects.SVC_MODEL_LIST, ModelQuery, ModelList, use_query=True))


@routes.get(BASE + "/compare")
async def compare_models(request: web.Request) -> web.Response:
    return answer(await call(request, subjects.SVC_MODEL_COMPARE, CompareQuery, Comparison, use_query=True))


@routes.get(BASE + "/{id}")
async def get_model(request: web.Request) -> web.Response:
    return answer(await call(request, subjects.SVC_MODEL_GET, ModelRef, ModelVersion, path=MODEL))


@routes.patch(BASE + "/{id}")
async def update_model(request: web.Request) -> web.Response:
    return answer(await call(request, subjects.SVC_MODEL_UPDATE, ModelUpdate, ModelVersion, path=MODEL, use_body=True))


def _transition(step: Transition) -> None:
    async def handle(request: web.Request) -> web.Response:
        model = await call(
            request,
            subjects.SVC_MODEL_TRANSITION,
            ModelTransition,
            ModelVersion,
            path=MODEL,
            use_body=True,
            fixed={"transition": step.value},
        )
        return answer(model)

    routes.post(f"{BASE}/{{id}}/{step.value}")(handle)


for _step in Transition:
    _transition(_step)


@routes.post(BASE + "/{id}/release")
async def release_model(request: web.Request) -> web.Response:
    release = await call(request, subjects.SVC_MODEL_RELEASE, ReleaseRequest, Release, path=MODEL, use_body=True)
    return answer(release, 201, {"Location": f"{BASE}/{release.model_id}/release"})


@routes.post(BASE + "/{id}/rollback")
async def rollback_model(request: web.Request) -> web.Response:
    release = await call(request, subjects.SVC_MODEL_ROLLBACK, ModelAction, Release, path=MODEL, use_body=True)
    return answer(release, 201, {"Location": f"{BASE}/{release.model_id}/release"})


@routes.post(BASE + "/{id}/default")
async def set_default_model(request: web.Request) -> web.Response:
    return answer(
        await call(request, subjects.SVC_MODEL_SET_DEFAULT, ModelAction, ModelVersion, path=MODEL, use_body=True)
    )


@routes.get(BASE + "/{id}/lineage")
async def model_lineage(request: web.Request) -> web.Response:
    return answer(await call(request, subjects.SVC_MODEL_LINEAGE, ModelRef, Lineage, path=MODEL))


@routes.get(BASE + "/{id}/release")
async def model_release(request: web.Request) -> web.Response:
    return answer(await call(request, subjects.SVC_MODEL_RELEASE_GET, ModelRef, ReleaseDownload, path=MODEL))


@routes.get("/api/v1/registry/modules")
async def list_modules(request: web.Request) -> web.Response:
    return answer(await call(request, subjects.SVC_MODULE_LIST, NoQuery, ModuleList))


@routes.post("/api/v1/registry/modules/{ai_module}/revert")
async def revert_module(request: web.Request) -> web.Response:
    release = await call(
        request, subjects.SVC_MODULE_REVERT, ModuleRef, Release, path={"ai_module": "ai_module"}, use_body=True
    )
    return answer(release, 201)


@routes.get("/api/v1/registry/keys")
async def signing_keys(request: web.Request) -> web.Response:
    return answer(await call(request, subjects.SVC_REGISTRY_KEYS, NoQuery, SigningKeys))


@routes.get("/api/v1/registry/settings")
async def get_settings(request: web.Request) -> web.Response:
    return answer(await call(request, subjects.SVC_REGISTRY_SETTINGS_GET, NoQuery, RegistrySettings))


@routes.put("/api/v1/registry/settings")
async def put_settings(request: web.Request) -> web.Response:
    return answer(
        await call(request, subjects.SVC_REGISTRY_SETTINGS_PUT, RegistrySettings, RegistrySettings, use_body=True)
    )
