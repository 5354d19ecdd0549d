from __future__ import annotations

import socket
from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from modelyard.contracts.api.training import Pool
from modelyard.runtime.settings import ObjectStoreSettings, ServiceSettings


class Settings(ServiceSettings, ObjectStoreSettings):
    model_config = SettingsConfigDict(env_prefix="MODELYARD_TRAINER_", extra="ignore", frozen=True)

    service_name: str = "trainer"
    pool: Pool = Pool.CPU
    trainer_id: str = Field(default_factory=lambda: f"{socket.gethostname()}-{__import__('os').getpid()}")
    work_dir: Path = Path(".modelyard/trainer")
    lease_s: float = Field(default=30.0, ge=1.0, description="AckWait of a dispatch message: the job's lease")
    heartbeat_s: float = Field(default=0.0, ge=0.0, description="0: a third of the lease")
    device: str = "cpu"
    log_flush_s: float = Field(default=0.5, gt=0)

    @property
    def heartbeat_every(self) -> float:
        return self.heartbeat_s or self.lease_s / 3
