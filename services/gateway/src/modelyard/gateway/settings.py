from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from modelyard.runtime.settings import DatabaseSettings, ServiceSettings


class Settings(ServiceSettings, DatabaseSettings):
    model_config = SettingsConfigDict(env_prefix="MODELYARD_GATEWAY_", extra="ignore", frozen=True)

    service_name: str = "gateway"
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    # access tokens (HS256): every replica needs the same secret; none set: a random one per process, so tokens
    # work only with the replica that issued them and not after its restart
    token_secret: SecretStr | None = Field(default=None, min_length=32)
    # or a file holding it (a mounted secret); made with a random secret (mode 0600) if it does not exist yet, so a
    # single gateway with a volume keeps its tokens valid across restarts
    token_secret_file: Path | None = None
    # an API key's owner, role and scopes are remembered this long; a revocation reaches every replica at once
    # (a NATS notice), so this bounds only a missed notice
    key_cache_s: float = Field(default=10.0, ge=0, le=300)
    # multiplies every plan's request rate and burst (tests and benchmarks raise it; 0 turns the limit off)
    rate_limit_scale: float = Field(default=1.0, ge=0)
    # GET job status answers from memory until the job's next event (or this many seconds); 0: always ask
    job_cache_s: float = Field(default=5.0, ge=0, le=60)


SCHEMA = "gateway"
