from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from modelyard.runtime.settings import DatabaseSettings, ObjectStoreSettings, ServiceSettings


class Settings(ServiceSettings, DatabaseSettings, ObjectStoreSettings):
    model_config = SettingsConfigDict(env_prefix="MODELYARD_REGISTRY_", extra="ignore", frozen=True)

    service_name: str = "registry"
    signing_key_path: Path = Field(
        default=Path(".modelyard/keys/release-signing.pem"), description="EC P-256 private key (PEM) for releases"
    )
    create_signing_key: bool = Field(default=False, description="create the key at start when it is missing (dev)")
    presign_ttl_s: int = Field(default=900, ge=60, le=7 * 24 * 3600)
    work_dir: Path = Field(default=Path(".modelyard/registry"), description="scratch space for building releases")
    measure_inference_runs: int = Field(default=10, ge=0, le=1000, description="ONNX timing runs; 0 turns it off")


SCHEMA = "registry"
QUEUE = "registry"
SERVICE = "service:registry"
