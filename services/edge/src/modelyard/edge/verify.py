"""Deciding whether a downloaded release may be installed, before a byte of the model is loaded.

A release is a folder holding exactly model.onnx and release.json, signed by the registry with model-signing (an EC
P-256 key) into a Sigstore bundle kept beside the folder. The signature proves the files are the registry's; the
signed release.json then says where they may run: which module, which counter (so an old release cannot be
replayed), until when, on which hardware and platform. Everything here is re-implemented from model-signing and
cryptography: the edge never imports the registry service. Blocking (hashing, verification): call it off the loop."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal
from uuid import UUID

from cryptography.hazmat.primitives import serialization
from model_signing import verifying
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

FORMAT = "modelyard-release/1"
MODEL_FILE = "model.onnx"
MANIFEST_FILE = "release.json"
ANY = "any"
# release.json is a few KB; anything much larger is not one, and is read before its signature is checked
_MANIFEST_MAX_BYTES = 1 << 20
_HASH_BLOCK = 1 << 20

RefusalReason = Literal[
    "bad_signature",
    "untrusted_key",
    "counter_not_newer",
    "expired",
    "wrong_hardware",
    "wrong_platform",
    "wrong_module",
    "bad_manifest",
    "files_mismatch",
]


class ReleaseRefused(Exception):
    """The release must not be installed. `reason` is machine-readable (reported back to the registry), the message
    is for a person reading the device's log."""

    def __init__(self, reason: RefusalReason, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason: RefusalReason = reason
        self.message = message


class ReleaseFile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    size: int = Field(ge=0)


class ReleaseLineage(BaseModel):
    """Where the model came from; informational on the device (nothing is enforced on it), so fields the registry
    adds later are ignored rather than refused."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    job_id: UUID
    attempt: int
    dataset_id: UUID
    dataset_version: int
    manifest_sha256: str
    config_sha256: str
    base_version: str | None = None


class ReleaseManifest(BaseModel):
    """release.json, trusted only once the bundle has been verified. Unknown fields are refused: a field this agent
    does not know may be a constraint it would fail to enforce, and a new constraint comes with a new `format`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    format: Literal["modelyard-release/1"]
    org_id: UUID
    ai_module: str = Field(min_length=1)
    model_id: UUID
    version: str
    task: str
    framework: str
    counter: int = Field(ge=1)
    kind: str
    issued_at: AwareDatetime
    expires_at: AwareDatetime
    platforms: tuple[str, ...]
    hardware: tuple[str, ...]
    key_id: str = Field(pattern=r"^[0-9a-f]{16}$")
    files: Mapping[str, ReleaseFile]
    metrics: Mapping[str, float]
    lineage: ReleaseLineage


def key_id(public_key_pem: bytes) -> str:
    """The registry's key id: the first 16 hex digits of the sha256 of the key's DER SubjectPublicKeyInfo, the same
    for a key however its PEM is wrapped or commented."""
    public = serialization.load_pem_public_key(public_key_pem)
    der = public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()[:16]


def verify_release(
    folder: Path,
    signature: Path,
    trusted_keys: Mapping[str, Path],
    *,
    expect_module: str | None,
    last_counter: int | None,
    hardware: str,
    platform: str,
    now: datetime | None = None,
) -> ReleaseManifest:
    """The verified manifest of the release in `folder`, or ReleaseRefused saying why it must not be installed.

    `trusted_keys` maps key id to public key PEM path. `last_counter` is the highest counter installed for the
    module (None: nothing yet); the release's counter must be strictly greater. `now` must be timezone-aware."""
    if now is None:
        now = datetime.now(UTC)
    elif now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    claimed = _claimed_key_id(folder / MANIFEST_FILE)
    public_key = trusted_keys.get(claimed)
    if public_key is None:
        raise ReleaseRefused("untrusted_key", f"signed with key {claimed}, which this device does not trust")
    _verify_bundle(folder, signature, public_key)
    manifest = _parse(folder / MANIFEST_FILE)
    if manifest.key_id != claimed:  # only if release.json changed under us since it was read
        raise ReleaseRefused("bad_signature", "release.json changed while it was being verified")
    _check_policy(manifest, expect_module, last_counter, hardware, platform, now)
    _check_model_file(folder / MODEL_FILE, manifest)
    return manifest


def _claimed_key_id(path: Path) -> str:
    """The key id release.json claims, read before anything is verified: it only picks which trusted key to try."""
    data = _read_manifest(path)
    try:
        claimed = json.loads(data)["key_id"]
    except (ValueError, TypeError, KeyError) as exc:
        raise ReleaseRefused("bad_manifest", f"{MANIFEST_FILE} names no key_id: {exc}") from exc
    if not isinstance(claimed, str):
        raise ReleaseRefused("bad_manifest", f"{MANIFEST_FILE} key_id is not a string")
    return claimed


def _read_manifest(path: Path) -> bytes:
    try:
        with path.open("rb") as fh:
            data = fh.read(_MANIFEST_MAX_BYTES + 1)
    except OSError as exc:
        raise ReleaseRefused("bad_manifest", f"cannot read {MANIFEST_FILE}: {exc}") from exc
    if len(data) > _MANIFEST_MAX_BYTES:
        raise ReleaseRefused("bad_manifest", f"{MANIFEST_FILE} is larger than {_MANIFEST_MAX_BYTES} bytes")
    return data


def _verify_bundle(folder: Path, signature: Path, public_key: Path) -> None:
    """model-signing checks that the bundle covers exactly the folder's files (none added, none missing, none
    changed) and is signed by `public_key`. A fresh Config every time: model-signing 1.1.1 keeps state between
    verifications."""
    # A missing trusted key file is this device's misconfiguration, not a bad release: say so instead of refusing.
    if not public_key.is_file():
        raise FileNotFoundError(f"trusted public key {public_key} does not exist")
    if not signature.is_file():
        raise ReleaseRefused("bad_signature", f"no signature bundle at {signature}")
    # Fail closed on any error: besides ValueError, model-signing 1.1.1 raises KeyError for a bundle missing fields
    # and cryptography's InvalidSignature for a forged envelope. None of them may let a release through.
    try:
        config = verifying.Config()  # type: ignore[no-untyped-call]
        config.use_elliptic_key_verifier(public_key=public_key).verify(folder, signature)
    except Exception as exc:
        raise ReleaseRefused("bad_signature", f"{type(exc).__name__}: {exc}") from exc


def _parse(path: Path) -> ReleaseManifest:
    try:
        return ReleaseManifest.model_validate_json(_read_manifest(path))
    except ValidationError as exc:
        raise ReleaseRefused("bad_manifest", f"{MANIFEST_FILE}: {exc}") from exc


def _check_policy(
    manifest: ReleaseManifest,
    expect_module: str | None,
    last_counter: int | None,
    hardware: str,
    platform: str,
    now: datetime,
) -> None:
    if expect_module is not None and manifest.ai_module != expect_module:
        raise ReleaseRefused("wrong_module", f"release is for module {manifest.ai_module!r}, not {expect_module!r}")
    if last_counter is not None and manifest.counter <= last_counter:
        raise ReleaseRefused(
            "counter_not_newer", f"release counter {manifest.counter} is not newer than installed {last_counter}"
        )
    if manifest.expires_at <= now:
        raise ReleaseRefused("expired", f"release expired at {manifest.expires_at.isoformat()}")
    if not _allows(manifest.hardware, hardware):
        raise ReleaseRefused("wrong_hardware", f"release runs on {list(manifest.hardware)}, device is {hardware!r}")
    if not _allows(manifest.platforms, platform):
        raise ReleaseRefused("wrong_platform", f"release runs on {list(manifest.platforms)}, device is {platform!r}")


def _allows(values: tuple[str, ...], device: str) -> bool:
    return ANY in values or device in values


def _check_model_file(path: Path, manifest: ReleaseManifest) -> None:
    """The bundle already pins model.onnx's bytes; this proves the signed manifest describes those same bytes, so the
    size and digest the agent reports and loads by are the ones that were released."""
    declared = manifest.files.get(MODEL_FILE)
    if declared is None:
        raise ReleaseRefused("files_mismatch", f"{MANIFEST_FILE} does not list {MODEL_FILE}")
    try:
        size = path.stat().st_size
        digest = hashlib.sha256()
        with path.open("rb") as fh:
            while block := fh.read(_HASH_BLOCK):
                digest.update(block)
    except OSError as exc:
        raise ReleaseRefused("files_mismatch", f"cannot read {MODEL_FILE}: {exc}") from exc
    if size != declared.size or digest.hexdigest() != declared.sha256:
        raise ReleaseRefused(
            "files_mismatch",
            f"{MODEL_FILE} is {size} bytes with sha256 {digest.hexdigest()}, "
            f"{MANIFEST_FILE} says {declared.size} bytes with {declared.sha256}",
        )
