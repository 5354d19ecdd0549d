from __future__ import annotations

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from modelyard.runtime.natsauth import account_public_key
from modelyard.runtime.settings import DatabaseSettings, ObjectStoreSettings, ServiceSettings


class Settings(ServiceSettings, DatabaseSettings, ObjectStoreSettings):
    model_config = SettingsConfigDict(env_prefix="MODELYARD_DISTRIBUTION_", extra="ignore", frozen=True)

    service_name: str = "distribution"
    presign_ttl_s: int = Field(default=900, ge=60, le=7 * 24 * 3600, description="download URLs in deploy messages")
    max_attempts: int = Field(default=3, ge=1, le=20, description="sends per device before a retryable failure sticks")
    retry_backoff_s: tuple[float, ...] = (5.0, 30.0, 120.0)
    retry_poll_s: float = Field(default=1.0, gt=0)
    nats_account_seed: SecretStr | None = Field(
        default=None,
        description="seed of the NATS account devices belong to (operator mode): enrollment then mints each device "
        "a .creds allowed only its own subjects; unset when NATS runs without auth",
    )
    device_credentials_ttl_days: int = Field(
        default=365, ge=1, le=10 * 365, description="lifetime of a device's NATS credentials (operator mode)"
    )

    @field_validator("nats_account_seed")
    @classmethod
    def _account_seed(cls, seed: SecretStr | None) -> SecretStr | None:
        if seed is not None:
            account_public_key(seed.get_secret_value())  # raises ValueError: refuse to start, not to enroll
        return seed


SCHEMA = "distribution"
QUEUE = "distribution"
SERVICE = "service:distribution"
