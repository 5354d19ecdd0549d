from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from modelyard.runtime.settings import DatabaseSettings, ObjectStoreSettings, ServiceSettings


class Settings(ServiceSettings, DatabaseSettings, ObjectStoreSettings):
    model_config = SettingsConfigDict(env_prefix="MODELYARD_DATASET_", extra="ignore", frozen=True)

    service_name: str = "dataset"
    upload_ttl_s: float = Field(default=24 * 3600, gt=0, description="unfinished uploads expire after this")
    sweep_interval_s: float = Field(default=60, gt=0)
    import_workers: int = Field(default=4, ge=1, le=64, description="parallel blob writes during an import")
    presign_ttl_s: int = Field(default=900, ge=60)


SCHEMA = "dataset"
QUEUE = "dataset"
