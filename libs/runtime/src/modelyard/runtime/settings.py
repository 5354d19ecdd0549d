"""One settings object per process. Each service subclasses `ServiceSettings` with its own env prefix:

    class Settings(ServiceSettings):
        model_config = SettingsConfigDict(env_prefix="MODELYARD_DATASET_")

and builds it once in `__main__`. Nothing else reads os.environ.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class LogFormat(StrEnum):
    JSON = "json"
    CONSOLE = "console"


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MODELYARD_", extra="ignore", frozen=True)

    service_name: str = "modelyard"
    log_format: LogFormat = LogFormat.JSON
    log_level: str = "INFO"
    nats_url: str = "nats://127.0.0.1:4222"
    nats_creds_path: Path | None = Field(
        default=None,
        description="the service's NATS .creds file (operator mode, see runtime.natsauth.service_creds); its "
        "connections then use the service's own inbox prefix; unset when NATS runs without auth",
    )
    stream_replicas: int = Field(
        default=1,
        ge=1,
        le=5,
        description="replicas of every JetStream stream this service declares: 3 on a three-server cluster (R3), "
        "1 on a single server; every service of a deployment must say the same",
    )
    request_timeout_s: float = Field(default=10.0, gt=0)
    metrics_port: int = Field(default=0, ge=0, le=65535, description="Prometheus /metrics listener; 0 = off")

    @field_validator("nats_creds_path")
    @classmethod
    def _creds_file(cls, path: Path | None) -> Path | None:
        if path is not None and not path.is_file():  # refuse to start, rather than fail every reconnect
            raise ValueError(f"no NATS credentials file at {path}")
        return path


class DatabaseSettings(BaseSettings):
    """Mixed into the settings of services that own a PostgreSQL schema."""

    database_url: str = "postgresql://postgres@127.0.0.1:5432/modelyard"
    database_pool_min: int = Field(default=1, ge=0)
    database_pool_max: int = Field(default=10, ge=1)


class ObjectStoreSettings(BaseSettings):
    """Mixed into the settings of services that keep blobs in S3."""

    s3_endpoint: str = "http://127.0.0.1:9000"
    s3_access_key: str = "modelyard"
    s3_secret_key: SecretStr = SecretStr("")
    s3_region: str = "us-east-1"
    s3_bucket: str = "modelyard"
