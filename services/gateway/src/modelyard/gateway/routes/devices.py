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
from modelyard.contracts.permissions import Permission
from modelyard.gateway import context
from modelyard.gateway.endpoints import Api, Endpoint, Link

api = Api("devices", literal=("/api/v1/devices/enroll", "/api/v1/devices/enrollment-tokens"))
routes = api.routes
ID = {"id": "id"}
# who enrolls: nobody yet; distribution finds the organisation from the token and ignores this
UNENROLLED = Principal(org_id=uuid.UUID(int=0), user_id=uuid.UUID(int=0), role=Role.VIEWER)
THE_DEPLOYMENT = {"id": "$response.body#/id"}
DEPLOYMENT_NEXT = {
    "GetDeployment": Link("get_deployment", THE_DEPLOYMENT),
    "PauseDeployment": Link("pause", THE_DEPLOYMENT),
    "ResumeDeployment": Link("resume", THE_DEPLOYMENT),
}


@api.route(
    "POST",
    "/api/v1/devices/enrollment-tokens",
    "Make a one-time enrollment token (admins)",
    request=EnrollmentTokenCreate,
    permission=Permission.DEVICE_MANAGE,
    from_body=True,
    response=EnrollmentToken,
    status=201,
    links={"Enroll": Link("enroll", request_body={"token": "$response.body#/token"})},
)
async def create_token(request: web.Request, ep: Endpoint[EnrollmentTokenCreate, EnrollmentToken]) -> web.Response:
    """The token is in this answer only (it is stored hashed)."""
    return ep.answer(
        await ep.call(request, subjects.SVC_ENROLLMENT_TOKEN_CREATE), headers={"Cache-Control": "no-store"}
    )


@api.route(
    "POST",
    "/api/v1/devices/enroll",
    "Enroll a device with a one-time token",
    request=DeviceEnroll,
    from_body=True,
    response=DeviceEnrolled,
    status=201,
    public=True,
    errors={401, 409},
    links={"GetDevice": Link("get_device", {"id": "$response.body#/device_id"})},
)
async def enroll(request: web.Request, ep: Endpoint[DeviceEnroll, DeviceEnrolled]) -> web.Response:
    """No API key: the token in the body proves the device (401 when it is unknown, used or expired). The answer
    holds the device's id, its subjects and the registry's public keys."""
    spec = await ep.payload(request)
    rpc = request.app[context.RPC]
    enrolled = await rpc.call(
        subjects.SVC_DEVICE_ENROLL, UNENROLLED, spec, context.correlation_id(request), DeviceEnrolled
    )
    return ep.answer(enrolled)


@api.route(
    "GET",
    "/api/v1/devices",
    "List devices",
    request=DeviceQuery,
    permission=Permission.DEVICE_READ,
    from_query=True,
    response=DeviceList,
    links={"GetFirstDevice": Link("get_device", {"id": "$response.body#/devices/0/id"})},
)
async def list_devices(request: web.Request, ep: Endpoint[DeviceQuery, DeviceList]) -> web.Response:
    """`label=key=value` keeps the devices with that label."""
    return ep.answer(await ep.call(request, subjects.SVC_DEVICE_LIST))


@api.route(
    "GET",
    "/api/v1/devices/{id}",
    "Read a device",
    request=DeviceRef,
    permission=Permission.DEVICE_READ,
    from_path=ID,
    response=Device,
)
async def get_device(request: web.Request, ep: Endpoint[DeviceRef, Device]) -> web.Response:
    """Its last heartbeat, agent version and the version it serves per module."""
    return ep.answer(await ep.call(request, subjects.SVC_DEVICE_GET))


@api.route(
    "POST",
    "/api/v1/deployments",
    "Deploy a released version to devices",
    request=DeploymentCreate,
    permission=Permission.DEVICE_MANAGE,
    from_body=True,
    response=Deployment,
    status=201,
    errors={404, 409},
    links=DEPLOYMENT_NEXT,
)
async def create_deployment(request: web.Request, ep: Endpoint[DeploymentCreate, Deployment]) -> web.Response:
    """To one device, the devices with some labels, or all; the canary wave first, the next wave when a wave has
    finished, aborted once failures pass the threshold. 409 for a version that is not released, 422 when the
    target matches no device."""
    made = await ep.call(request, subjects.SVC_DEPLOYMENT_CREATE)
    return ep.answer(made, headers={"Location": f"/api/v1/deployments/{made.id}"})


@api.route(
    "GET",
    "/api/v1/deployments",
    "List deployments",
    request=DeploymentQuery,
    permission=Permission.DEVICE_READ,
    from_query=True,
    response=DeploymentList,
    links={"GetFirstDeployment": Link("get_deployment", {"id": "$response.body#/deployments/0/id"})},
)
async def list_deployments(request: web.Request, ep: Endpoint[DeploymentQuery, DeploymentList]) -> web.Response:
    return ep.answer(await ep.call(request, subjects.SVC_DEPLOYMENT_LIST))


@api.route(
    "GET",
    "/api/v1/deployments/{id}",
    "Read a deployment",
    request=DeploymentRef,
    permission=Permission.DEVICE_READ,
    from_path=ID,
    response=Deployment,
)
async def get_deployment(request: web.Request, ep: Endpoint[DeploymentRef, Deployment]) -> web.Response:
    """Its waves, failures and every device's step."""
    return ep.answer(await ep.call(request, subjects.SVC_DEPLOYMENT_GET))


@api.route(
    "POST",
    "/api/v1/deployments/{id}/pause",
    "Pause a rollout",
    request=DeploymentRef,
    permission=Permission.DEVICE_MANAGE,
    from_path=ID,
    response=Deployment,
    errors={409},
)
async def pause(request: web.Request, ep: Endpoint[DeploymentRef, Deployment]) -> web.Response:
    return ep.answer(await ep.call(request, subjects.SVC_DEPLOYMENT_PAUSE))


@api.route(
    "POST",
    "/api/v1/deployments/{id}/resume",
    "Resume a paused rollout",
    request=DeploymentRef,
    permission=Permission.DEVICE_MANAGE,
    from_path=ID,
    response=Deployment,
    errors={409},
)
async def resume(request: web.Request, ep: Endpoint[DeploymentRef, Deployment]) -> web.Response:
    return ep.answer(await ep.call(request, subjects.SVC_DEPLOYMENT_RESUME))
