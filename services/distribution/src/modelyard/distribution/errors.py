"""Errors of distribution; the category decides the HTTP status."""

from __future__ import annotations

from uuid import UUID

from modelyard.runtime.problems import Conflict, InvalidInput, NotFound, Unauthorized


class DeviceNotFound(NotFound):
    slug = "device-not-found"
    title = "Device not found"

    def __init__(self, device_id: UUID) -> None:
        super().__init__(f"device {device_id} does not exist in this organisation", device_id=str(device_id))


class DeploymentNotFound(NotFound):
    slug = "deployment-not-found"
    title = "Deployment not found"

    def __init__(self, deployment_id: UUID) -> None:
        super().__init__(f"deployment {deployment_id} does not exist in this organisation")


class EnrollmentRefused(Unauthorized):
    slug = "enrollment-refused"
    title = "Enrollment token not valid"


class NoTargets(InvalidInput):
    slug = "no-target-devices"
    title = "The target matches no device"


class NotDeployable(Conflict):
    slug = "not-deployable"
    title = "Model version cannot be deployed"


class DeploymentFinished(Conflict):
    slug = "deployment-finished"
    title = "Deployment already finished"
