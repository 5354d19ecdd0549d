"""Release verification against real signed releases: folders signed with the registry's own Signer (importing the
registry is fine in tests, never in the agent), and one release.json built by the registry's own `manifest()`, so a
drift between what the registry writes and what the edge accepts fails here."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast
from uuid import uuid4

import pytest

from modelyard.contracts.api.training import Artifact
from modelyard.edge.verify import ReleaseManifest, ReleaseRefused, key_id, verify_release
from modelyard.registry import releases
from modelyard.registry.signing import Signer

MODEL = b"\x08\x07tiny onnx stand-in\x00" * 10
NOW = datetime(2030, 1, 15, 12, 0, tzinfo=UTC)
DEVICE = {"hardware": "jetson-orin", "platform": "linux/arm64"}


@pytest.fixture
def signer(tmp_path: Path) -> Signer:
    return Signer.load(tmp_path / "keys" / "release.pem", create=True)


@pytest.fixture
def trusted(signer: Signer, tmp_path: Path) -> dict[str, Path]:
    public = tmp_path / "keys" / "release.pub.pem"
    public.write_text(signer.public_key_pem)
    return {signer.key_id: public}


def manifest_body(signer: Signer, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "format": "modelyard-release/1",
        "org_id": str(uuid4()),
        "ai_module": "people-counter",
        "model_id": str(uuid4()),
        "version": "3",
        "task": "detect",
        "framework": "ultralytics",
        "counter": 7,
        "kind": "release",
        "issued_at": (NOW - timedelta(days=1)).isoformat(),
        "expires_at": (NOW + timedelta(days=30)).isoformat(),
        "platforms": ["linux/arm64"],
        "hardware": ["any"],
        "key_id": signer.key_id,
        "files": {"model.onnx": {"sha256": hashlib.sha256(MODEL).hexdigest(), "size": len(MODEL)}},
        "metrics": {"metrics/mAP50(B)": 0.61},
        "lineage": {
            "job_id": str(uuid4()),
            "attempt": 1,
            "dataset_id": str(uuid4()),
            "dataset_version": 2,
            "manifest_sha256": "a" * 64,
            "config_sha256": "b" * 64,
            "base_version": None,
        },
    }
    body.update(overrides)
    return body


def signed_release(root: Path, signer: Signer, body: dict[str, Any]) -> tuple[Path, Path]:
    """A release folder (model.onnx, release.json) and its bundle beside it, as the registry builds them."""
    folder = root / f"release-{uuid4().hex[:8]}"
    folder.mkdir(parents=True)
    (folder / "model.onnx").write_bytes(MODEL)
    (folder / "release.json").write_text(json.dumps(body, indent=2, sort_keys=True) + "\n")
    signature = root / f"{folder.name}.sig"
    signer.sign(folder, signature)
    return folder, signature


def verify(
    folder: Path, signature: Path, trusted: dict[str, Path], *, last_counter: int | None = 6, **kw: Any
) -> ReleaseManifest:
    options: dict[str, Any] = {"expect_module": "people-counter", **DEVICE, "now": NOW, **kw}
    return verify_release(folder, signature, trusted, last_counter=last_counter, **options)


def refusal(folder: Path, signature: Path, trusted: dict[str, Path], **kw: Any) -> str:
    with pytest.raises(ReleaseRefused) as refused:
        verify(folder, signature, trusted, **kw)
    assert str(refused.value)
    return refused.value.reason


def test_signed_release_for_this_device_is_accepted_with_its_manifest(
    signer: Signer, trusted: dict[str, Path], tmp_path: Path
) -> None:
    folder, signature = signed_release(tmp_path, signer, manifest_body(signer))

    manifest = verify(folder, signature, trusted)

    assert manifest.counter == 7 and manifest.ai_module == "people-counter" and manifest.key_id == signer.key_id
    assert manifest.files["model.onnx"].size == len(MODEL)


def test_release_json_written_by_the_registry_is_accepted(
    signer: Signer, trusted: dict[str, Path], tmp_path: Path
) -> None:
    """The contract with the producer: release.json from the registry's own manifest() parses and verifies."""
    row = {
        "org_id": uuid4(),
        "ai_module": "people-counter",
        "id": uuid4(),
        "version": "3",
        "task": "detect",
        "framework": "ultralytics",
        "metrics": {"metrics/mAP50(B)": 0.61},
        "lineage": {
            "job_id": str(uuid4()),
            "job_name": "nightly",
            "attempt": 1,
            "submitted_by": "user:alice",
            "dataset_id": str(uuid4()),
            "dataset_version": 2,
            "manifest_sha256": "a" * 64,
            "framework": "ultralytics",
            "task": "detect",
            "config": {"epochs": 2},
            "config_sha256": "b" * 64,
        },
    }
    onnx = Artifact(name="model.onnx", key="k", size=len(MODEL), sha256=hashlib.sha256(MODEL).hexdigest())
    body = releases.manifest(
        cast(Any, row),  # an asyncpg.Record in the registry; manifest() only indexes it
        7,
        "release",
        NOW - timedelta(days=1),
        NOW + timedelta(days=30),
        ["linux/arm64"],
        ["jetson-orin"],
        onnx,
        signer.key_id,
    )
    folder, signature = signed_release(tmp_path, signer, body)

    assert verify(folder, signature, trusted).hardware == ("jetson-orin",)


def test_key_id_is_derived_as_the_registry_derives_it(signer: Signer) -> None:
    assert key_id(signer.public_key_pem.encode()) == signer.key_id


def test_model_changed_after_signing_is_a_bad_signature(
    signer: Signer, trusted: dict[str, Path], tmp_path: Path
) -> None:
    folder, signature = signed_release(tmp_path, signer, manifest_body(signer))
    changed = bytearray(MODEL)
    changed[3] ^= 0x01
    (folder / "model.onnx").write_bytes(changed)

    assert refusal(folder, signature, trusted) == "bad_signature"


def test_release_json_changed_after_signing_is_a_bad_signature(
    signer: Signer, trusted: dict[str, Path], tmp_path: Path
) -> None:
    folder, signature = signed_release(tmp_path, signer, manifest_body(signer))
    (folder / "release.json").write_text(json.dumps(manifest_body(signer, counter=99)))

    assert refusal(folder, signature, trusted) == "bad_signature"


def test_extra_file_in_the_folder_is_a_bad_signature(signer: Signer, trusted: dict[str, Path], tmp_path: Path) -> None:
    folder, signature = signed_release(tmp_path, signer, manifest_body(signer))
    (folder / "postprocess.py").write_text("import os\n")

    assert refusal(folder, signature, trusted) == "bad_signature"


def test_forged_envelope_signature_is_a_bad_signature(signer: Signer, trusted: dict[str, Path], tmp_path: Path) -> None:
    """A bundle whose DSSE signature bytes were altered: model-signing raises cryptography's InvalidSignature
    (not a ValueError) for this, and it must still refuse."""
    folder, signature = signed_release(tmp_path, signer, manifest_body(signer))
    bundle = json.loads(signature.read_text())
    raw = bytearray(base64.b64decode(bundle["dsseEnvelope"]["signatures"][0]["sig"]))
    raw[-1] ^= 0x01
    bundle["dsseEnvelope"]["signatures"][0]["sig"] = base64.b64encode(raw).decode()
    signature.write_text(json.dumps(bundle))

    assert refusal(folder, signature, trusted) == "bad_signature"


@pytest.mark.parametrize("content", ["", "not json", "{}", '{"mediaType": "x"}'])
def test_garbage_bundle_is_a_bad_signature(
    signer: Signer, trusted: dict[str, Path], tmp_path: Path, content: str
) -> None:
    folder, signature = signed_release(tmp_path, signer, manifest_body(signer))
    signature.write_text(content)

    assert refusal(folder, signature, trusted) == "bad_signature"


def test_missing_bundle_is_a_bad_signature(signer: Signer, trusted: dict[str, Path], tmp_path: Path) -> None:
    folder, signature = signed_release(tmp_path, signer, manifest_body(signer))
    signature.unlink()

    assert refusal(folder, signature, trusted) == "bad_signature"


def test_release_signed_by_a_key_the_device_does_not_trust_is_refused(trusted: dict[str, Path], tmp_path: Path) -> None:
    other = Signer.load(tmp_path / "other.pem", create=True)
    folder, signature = signed_release(tmp_path, other, manifest_body(other))

    assert refusal(folder, signature, trusted) == "untrusted_key"


def test_release_claiming_a_trusted_key_but_signed_by_another_is_a_bad_signature(
    signer: Signer, trusted: dict[str, Path], tmp_path: Path
) -> None:
    other = Signer.load(tmp_path / "other.pem", create=True)
    folder, signature = signed_release(tmp_path, other, manifest_body(signer))

    assert refusal(folder, signature, trusted) == "bad_signature"


@pytest.mark.parametrize("last_counter", [7, 8])
def test_counter_not_above_the_installed_one_is_refused(
    signer: Signer, trusted: dict[str, Path], tmp_path: Path, last_counter: int
) -> None:
    folder, signature = signed_release(tmp_path, signer, manifest_body(signer, counter=7))

    assert refusal(folder, signature, trusted, last_counter=last_counter) == "counter_not_newer"


def test_first_release_on_a_fresh_device_is_accepted(signer: Signer, trusted: dict[str, Path], tmp_path: Path) -> None:
    folder, signature = signed_release(tmp_path, signer, manifest_body(signer, counter=1))

    assert verify(folder, signature, trusted, last_counter=None).counter == 1


def test_expired_release_is_refused(signer: Signer, trusted: dict[str, Path], tmp_path: Path) -> None:
    body = manifest_body(signer, expires_at=(NOW - timedelta(seconds=1)).isoformat())
    folder, signature = signed_release(tmp_path, signer, body)

    assert refusal(folder, signature, trusted) == "expired"
    assert verify(folder, signature, trusted, now=NOW - timedelta(days=1)).counter == 7


def test_release_for_other_hardware_is_refused(signer: Signer, trusted: dict[str, Path], tmp_path: Path) -> None:
    folder, signature = signed_release(tmp_path, signer, manifest_body(signer, hardware=["raspberry-pi-5", "x86"]))

    assert refusal(folder, signature, trusted) == "wrong_hardware"
    assert verify(folder, signature, trusted, hardware="x86").hardware == ("raspberry-pi-5", "x86")


def test_release_for_other_platform_is_refused(signer: Signer, trusted: dict[str, Path], tmp_path: Path) -> None:
    folder, signature = signed_release(tmp_path, signer, manifest_body(signer, platforms=["linux/amd64"]))

    assert refusal(folder, signature, trusted) == "wrong_platform"


def test_release_for_other_module_is_refused(signer: Signer, trusted: dict[str, Path], tmp_path: Path) -> None:
    folder, signature = signed_release(tmp_path, signer, manifest_body(signer, ai_module="plates"))

    assert refusal(folder, signature, trusted) == "wrong_module"
    assert verify(folder, signature, trusted, expect_module=None).ai_module == "plates"


@pytest.mark.parametrize(
    "overrides",
    [{"counter": "seven"}, {"expires_at": "2030-02-01T00:00:00"}, {"format": "modelyard-release/2"}, {"extra": 1}],
    ids=["counter-type", "naive-expiry", "unknown-format", "unknown-field"],
)
def test_signed_but_malformed_manifest_is_refused(
    signer: Signer, trusted: dict[str, Path], tmp_path: Path, overrides: dict[str, Any]
) -> None:
    folder, signature = signed_release(tmp_path, signer, manifest_body(signer, **overrides))

    assert refusal(folder, signature, trusted) == "bad_manifest"


def test_manifest_describing_other_model_bytes_is_refused(
    signer: Signer, trusted: dict[str, Path], tmp_path: Path
) -> None:
    files = {"model.onnx": {"sha256": hashlib.sha256(b"another model").hexdigest(), "size": len(MODEL)}}
    folder, signature = signed_release(tmp_path, signer, manifest_body(signer, files=files))

    assert refusal(folder, signature, trusted) == "files_mismatch"
