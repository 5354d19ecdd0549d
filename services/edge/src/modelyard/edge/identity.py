"""Who this device is and whom it trusts: written once at enrollment into the state dir (identity.json,
keys/<key_id>.pem and, when NATS runs with auth, nats.creds), read at every start. Enrollment trades a one-time token
for a device id, the registry's public keys (trust on first use; `--trusted-key` adds keys provisioned out of band)
and, with NATS in operator mode, the device's own NATS credentials (allowed only its own subjects) and the inbox
prefix it must use for replies."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path
from uuid import UUID

import httpx
from pydantic import BaseModel

from modelyard.contracts.api.devices import DeviceEnroll, DeviceEnrolled
from modelyard.edge.verify import key_id

IDENTITY_FILE = "identity.json"
KEYS_DIR = "keys"
CREDENTIALS_FILE = "nats.creds"


class Identity(BaseModel):
    device_id: UUID
    org_id: UUID
    name: str
    nats_url: str
    deploy_subject: str
    status_subject: str
    heartbeat_subject: str
    inbox_prefix: str | None = None
    """Where replies to this device's requests arrive; set with NATS credentials (it may subscribe nowhere else)."""


def load(state_dir: Path) -> Identity | None:
    path = state_dir / IDENTITY_FILE
    return Identity.model_validate_json(path.read_text()) if path.exists() else None


def save(state_dir: Path, identity: Identity) -> None:
    state_dir.mkdir(parents=True, exist_ok=True)
    tmp = state_dir / f"{IDENTITY_FILE}.tmp"
    tmp.write_text(identity.model_dump_json(indent=2))
    os.replace(tmp, state_dir / IDENTITY_FILE)


def store_credentials(state_dir: Path, creds: str | None) -> None:
    """Keep the device's NATS .creds (readable by its owner only), or remove old ones when there are none."""
    path = state_dir / CREDENTIALS_FILE
    if creds is None:
        path.unlink(missing_ok=True)
        return
    state_dir.mkdir(parents=True, exist_ok=True)
    tmp = state_dir / f"{CREDENTIALS_FILE}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)  # also when an old tmp file had another mode
        os.write(fd, creds.encode())
    finally:
        os.close(fd)
    os.replace(tmp, path)


def credentials(state_dir: Path) -> Path | None:
    """The device's NATS .creds file, if enrollment gave it one."""
    path = state_dir / CREDENTIALS_FILE
    return path if path.exists() else None


def store_key(state_dir: Path, pem: str) -> str:
    keys = state_dir / KEYS_DIR
    keys.mkdir(parents=True, exist_ok=True)
    kid = key_id(pem.encode())
    (keys / f"{kid}.pem").write_text(pem)
    return kid


def trusted_keys(state_dir: Path, extra: list[Path] | None = None) -> dict[str, Path]:
    """key_id → public key file: the keys from enrollment plus any given on the command line."""
    found = {p.stem: p for p in sorted((state_dir / KEYS_DIR).glob("*.pem"))}
    for path in extra or []:
        found[key_id(path.read_bytes())] = path
    return found


async def enroll(
    gateway: str,
    token: str,
    *,
    state_dir: Path,
    name: str,
    nats_url: str,
    platform: str,
    hardware: str,
    labels: dict[str, str],
    hardware_id: str | None = None,
) -> Identity:
    spec = DeviceEnroll(
        token=token,
        name=name,
        hardware_id=hardware_id or f"{socket.gethostname()}:{name}",
        platform=platform,
        hardware=hardware,
        labels=labels,
    )
    async with httpx.AsyncClient(base_url=gateway, timeout=30) as http:
        response = await http.post("/api/v1/devices/enroll", content=spec.model_dump_json())
    if response.status_code != 201:
        raise RuntimeError(f"enrollment refused: {response.status_code} {response.text}")
    enrolled = DeviceEnrolled.model_validate(response.json())
    for key in enrolled.trusted_keys:
        store_key(state_dir, key.public_key_pem)
    store_credentials(state_dir, enrolled.nats_credentials)
    identity = Identity(
        device_id=enrolled.device_id,
        org_id=enrolled.org_id,
        name=enrolled.name,
        nats_url=nats_url,
        deploy_subject=enrolled.deploy_subject,
        status_subject=enrolled.status_subject,
        heartbeat_subject=enrolled.heartbeat_subject,
        inbox_prefix=enrolled.inbox_prefix,
    )
    save(state_dir, identity)
    (state_dir / "enrollment.json").write_text(json.dumps({"gateway": gateway}))
    return identity
