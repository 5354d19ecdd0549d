"""Devices: one-time enrollment tokens, enrollment (a device's identity, its subjects and the keys it trusts), the
device list with each device's last heartbeat and active models."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import UTC, datetime, timedelta

from faststream.nats import NatsBroker

from modelyard.contracts import subjects
from modelyard.contracts.api.devices import (
    Device,
    DeviceEnroll,
    DeviceEnrolled,
    DeviceList,
    DeviceQuery,
    DeviceRef,
    EnrollmentToken,
    EnrollmentTokenCreate,
    TrustedKey,
)
from modelyard.contracts.api.identity import Principal, Role
from modelyard.contracts.api.models import SigningKeys
from modelyard.contracts.api.paging import NoQuery
from modelyard.distribution.deps import Deps
from modelyard.distribution.errors import EnrollmentRefused
from modelyard.distribution.settings import QUEUE
from modelyard.runtime import outbox
from modelyard.runtime.audit import audit
from modelyard.runtime.natsauth import device_inbox_prefix, device_permissions, user_creds
from modelyard.runtime.rpc import responder

TOKEN_PREFIX = "mye_"  # noqa: S105 - a prefix, not a secret


def _sha(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def service_principal(org_id: uuid.UUID) -> Principal:
    """How distribution calls another service on a device's behalf (enrollment has no user)."""
    return Principal(org_id=org_id, user_id=uuid.UUID(int=0), role=Role.SUPER_ADMIN)


def _device_credentials(deps: Deps, org_id: uuid.UUID, device_id: uuid.UUID) -> tuple[str | None, str | None]:
    """(.creds text, inbox prefix) for a device when NATS runs in operator mode (an account seed is configured):
    the device may publish its reports and use its own consumer, and receive only on its own inbox."""
    seed = deps.settings.nats_account_seed
    if seed is None:
        return None, None
    pub_allow, sub_allow = device_permissions(org_id, device_id)
    creds = user_creds(
        seed.get_secret_value(),
        f"device:{device_id}",
        pub_allow=pub_allow,
        sub_allow=sub_allow,
        expires_in=timedelta(days=deps.settings.device_credentials_ttl_days),
    )
    return creds, device_inbox_prefix(device_id)


def register(broker: NatsBroker, deps: Deps) -> None:
    @responder(broker, subjects.SVC_ENROLLMENT_TOKEN_CREATE, EnrollmentTokenCreate, queue=QUEUE)  # device:manage
    async def create_token(principal: Principal, spec: EnrollmentTokenCreate, correlation_id: str) -> EnrollmentToken:
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        expires_at = datetime.now(UTC) + timedelta(hours=spec.expires_in_hours)
        async with deps.pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "INSERT INTO enrollment_tokens (token_sha256, org_id, labels, created_by, expires_at) "
                "VALUES ($1, $2, $3, $4, $5)",
                _sha(token),
                principal.org_id,
                spec.labels,
                principal.actor,
                expires_at,
            )
            await outbox.enqueue(
                conn,
                audit(
                    principal,
                    correlation_id,
                    service="distribution",
                    action="device.enrollment_token_created",
                    resource_type="org",
                    resource_id=principal.org_id,
                    labels=spec.labels,
                ),
            )
        return EnrollmentToken(token=token, expires_at=expires_at, labels=spec.labels)

    @responder(broker, subjects.SVC_DEVICE_ENROLL, DeviceEnroll, queue=QUEUE)
    async def enroll(principal: Principal, spec: DeviceEnroll, correlation_id: str) -> DeviceEnrolled:
        async with deps.pool.acquire() as conn, conn.transaction():
            token = await conn.fetchrow(
                "SELECT * FROM enrollment_tokens WHERE token_sha256 = $1 FOR UPDATE", _sha(spec.token)
            )
            if token is None or token["used_at"] is not None or token["expires_at"] < datetime.now(UTC):
                raise EnrollmentRefused("the enrollment token is unknown, used or expired; ask an admin for a new one")
            org_id = token["org_id"]
            labels = token["labels"] | spec.labels
            device_id = await conn.fetchval(
                """INSERT INTO devices (id, org_id, name, hardware_id, platform, hardware, labels)
                   VALUES ($1, $2, $3, $4, $5, $6, $7)
                   ON CONFLICT (org_id, hardware_id) DO UPDATE
                   SET name = excluded.name, platform = excluded.platform, hardware = excluded.hardware,
                       labels = excluded.labels
                   RETURNING id""",
                uuid.uuid4(),
                org_id,
                spec.name,
                spec.hardware_id,
                spec.platform,
                spec.hardware,
                labels,
            )
            await conn.execute(
                "UPDATE enrollment_tokens SET used_at = now(), device_id = $2 WHERE token_sha256 = $1",
                _sha(spec.token),
                device_id,
            )
            device_actor = Principal(org_id=org_id, user_id=device_id, role=Role.VIEWER)
            await outbox.enqueue(
                conn,
                audit(
                    device_actor,
                    correlation_id,
                    service="distribution",
                    action="device.enrolled",
                    resource_type="device",
                    resource_id=device_id,
                    name=spec.name,
                    hardware_id=spec.hardware_id,
                ),
            )
        keys = await deps.rpc.call(
            subjects.SVC_REGISTRY_KEYS, service_principal(org_id), NoQuery(), correlation_id, SigningKeys
        )
        nats_credentials, inbox_prefix = _device_credentials(deps, org_id, device_id)
        return DeviceEnrolled(
            device_id=device_id,
            org_id=org_id,
            name=spec.name,
            deploy_subject=subjects.edge_deploy(org_id, device_id),
            status_subject=subjects.edge_status(device_id),
            heartbeat_subject=subjects.edge_heartbeat(device_id),
            trusted_keys=[TrustedKey(key_id=k.key_id, public_key_pem=k.public_key_pem) for k in keys.keys],
            nats_credentials=nats_credentials,
            inbox_prefix=inbox_prefix,
        )

    @responder(broker, subjects.SVC_DEVICE_LIST, DeviceQuery, queue=QUEUE)
    async def list_devices(principal: Principal, query: DeviceQuery, correlation_id: str) -> DeviceList:
        devices, total = await deps.devices.page(principal.org_id, query)
        return DeviceList(devices=devices, total=total)

    @responder(broker, subjects.SVC_DEVICE_GET, DeviceRef, queue=QUEUE)
    async def get_device(principal: Principal, ref: DeviceRef, correlation_id: str) -> Device:
        return await deps.devices.get(principal.org_id, ref.id)
