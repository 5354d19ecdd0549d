from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from modelyard.runtime.settings import DatabaseSettings, ServiceSettings


class Settings(ServiceSettings, DatabaseSettings):
    model_config = SettingsConfigDict(env_prefix="MODELYARD_DATASET_", extra="ignore", frozen=True)

    service_name: str = "dataset"


SCHEMA = "dataset"
QUEUE = "dataset"
