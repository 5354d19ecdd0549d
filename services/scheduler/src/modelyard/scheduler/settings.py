from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from modelyard.runtime.settings import DatabaseSettings, ObjectStoreSettings, ServiceSettings


class Settings(ServiceSettings, DatabaseSettings, ObjectStoreSettings):
    model_config = SettingsConfigDict(env_prefix="MODELYARD_SCHEDULER_", extra="ignore", frozen=True)

    service_name: str = "scheduler"
    max_attempts: int = Field(default=3, ge=1, le=20, description="failed attempts before a job fails for good")
    retry_backoff_s: tuple[float, ...] = (5.0, 30.0, 120.0)
    retry_poll_s: float = Field(default=1.0, gt=0)
    presign_ttl_s: int = Field(default=900, ge=60)


SCHEMA = "scheduler"
QUEUE = "scheduler"
