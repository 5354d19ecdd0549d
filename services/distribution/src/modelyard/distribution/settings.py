from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from modelyard.runtime.settings import DatabaseSettings, ObjectStoreSettings, ServiceSettings


class Settings(ServiceSettings, DatabaseSettings, ObjectStoreSettings):
    model_config = SettingsConfigDict(env_prefix="MODELYARD_DISTRIBUTION_", extra="ignore", frozen=True)

    service_name: str = "distribution"
    presign_ttl_s: int = Field(default=900, ge=60, le=7 * 24 * 3600, description="download URLs in deploy messages")
    max_attempts: int = Field(default=3, ge=1, le=20, description="sends per device before a retryable failure sticks")
    retry_backoff_s: tuple[float, ...] = (5.0, 30.0, 120.0)
    retry_poll_s: float = Field(default=1.0, gt=0)


SCHEMA = "distribution"
QUEUE = "distribution"
SERVICE = "service:distribution"
