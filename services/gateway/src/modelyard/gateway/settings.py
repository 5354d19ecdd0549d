from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from modelyard.runtime.settings import DatabaseSettings, ServiceSettings


class Settings(ServiceSettings, DatabaseSettings):
    model_config = SettingsConfigDict(env_prefix="MODELYARD_GATEWAY_", extra="ignore", frozen=True)

    service_name: str = "gateway"
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)


SCHEMA = "gateway"
