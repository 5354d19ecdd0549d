"""Edge devices and deployments (owned by distribution). Enrollment is the one call without an API key: the device
proves itself with the one-time enrollment token in the body."""

from __future__ import annotations

import uuid

from aiohttp import web

from modelyard.contracts import subjects
from modelyard.contracts.api.devices import (
    Deployment,
    DeploymentCreate,
    DeploymentList,
    DeploymentQuery,
    DeploymentRef,
    Device,
    DeviceEnroll,
    DeviceEnrolled,
    DeviceList,
    DeviceQuery,
    DeviceRef,
    EnrollmentToken,
    EnrollmentTokenCreate,
)
from modelyard.contracts.api.identity import Principal, Role
from modelyard.gateway import context
from modelyard.gateway.forward import answer, call, payload

routes = web.RouteTableDef()
ID = {"id": "id"}
# who enrolls: nobody yet; distribution finds the organisation from the token and ignores this
UNENROLLED = Principal(org_id=uuid.UUID(int=0), user_id=uuid.UUID(int=0), role=Role.VIEWER)


@routes.post("/api/v1/devices/enrollment-tokens")
async def create_token(request: web.Request) -> web.Response:
    made = await call(
        request, subjects.SVC_ENROLLMENT_TOKEN_CREATE, EnrollmentTokenCreate, EnrollmentToken, use_body=True
    )
    return answer(made, 201, {"Cache-Control": "no-store"})


@routes.post("/api/v1/devices/enroll")
async def enroll(request: web.Request) -> web.Response:
    spec = await payload(request, DeviceEnroll, use_body=True)
    rpc = request.app[context.RPC]
    enrolled = await rpc.call(
        subjects.SVC_DEVICE_ENROLL, UNENROLLED, spec, context.correlation_id(request), DeviceEnrolled
    )
    return answer(enrolled, 201)


@routes.get("/api/v1/devices")
async def list_devices(request: web.Request) -> web.Response:
    return answer(await call(request, subjects.SVC_DEVICE_LIST, DeviceQuery, DeviceList, use_query=True))


@routes.get("/api/v1/devices/{id}")
async def get_device(request: web.Request) -> web.Response:
    return answer(await call(request, subjects.SVC_DEVICE_GET, DeviceRef, Device, path=ID))


@routes.post("/api/v1/deployments")
async def create_deployment(request: web.Request) -> web.Response:
    made = await call(request, subjects.SVC_DEPLOYMENT_CREATE, DeploymentCreate, Deployment, use_body=True)
    return answer(made, 201, {"Location": f"/api/v1/deployments/{made.id}"})


@routes.get("/api/v1/deployments")
async def list_deployments(request: web.Request) -> web.Response:
    return answer(await call(request, subjects.SVC_DEPLOYMENT_LIST, DeploymentQuery, DeploymentList, use_query=True))


@routes.get("/api/v1/deployments/{id}")
async def get_deployment(request: web.Request) -> web.Response:
    return answer(await call(request, subjects.SVC_DEPLOYMENT_GET, DeploymentRef, Deployment, path=ID))


@routes.post("/api/v1/deployments/{id}/pause")
async def pause(request: web.Request) -> web.Response:
    return answer(await call(request, subjects.SVC_DEPLOYMENT_PAUSE, DeploymentRef, Deployment, path=ID))


@routes.post("/api/v1/deployments/{id}/resume")
async def resume(request: web.Request) -> web.Response:
    return answer(await call(request, subjects.SVC_DEPLOYMENT_RESUME, DeploymentRef, Deployment, path=ID))
