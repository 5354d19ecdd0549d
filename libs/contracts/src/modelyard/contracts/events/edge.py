"""The EDGE stream: deployments sent to one device, and what devices report back (status steps, heartbeats).
Plain JSON, readable with the stock `nats` CLI; each device may only read its own deploy subject."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar
from uuid import UUID

from pydantic import BaseModel

from modelyard.contracts import subjects
from modelyard.contracts.api.devices import ActiveModel, DeviceDeployStatus
from modelyard.contracts.envelope import Event


class DeployFile(BaseModel):
    name: str
    sha256: str
    size: int
    url: str


class DeployRequested(Event):
    """Install this signed release. The URLs are short-lived presigned GETs; the agent checks every byte anyway."""

    subject: ClassVar[str] = subjects.EDGE_DEPLOY_TEMPLATE  # edge.deploy.<org>.<device>
    deployment_id: UUID
    device_id: UUID
    ai_module: str
    model_id: UUID
    version: str
    counter: int
    files: list[DeployFile]
    signature_url: str
    urls_expire_at: datetime
    attempt: int = 1


class DeviceStatusReported(Event):
    subject: ClassVar[str] = subjects.EDGE_STATUS_TEMPLATE  # edge.status.<device>
    device_id: UUID
    deployment_id: UUID
    ai_module: str
    counter: int
    status: DeviceDeployStatus
    error: str | None = None
    reason: str | None = None  # machine-readable refusal: bad_signature, untrusted_key, counter_not_newer, ...


class DeviceHeartbeat(Event):
    subject: ClassVar[str] = subjects.EDGE_HEARTBEAT_TEMPLATE  # edge.heartbeat.<device>
    device_id: UUID
    agent_version: str
    active: dict[str, ActiveModel]
    health: str
