"""What the scheduler's handlers and consumers share."""

from __future__ import annotations

from dataclasses import dataclass, field

import asyncpg

from modelyard.runtime.rpc import RpcClient
from modelyard.runtime.storage import ObjectStore
from modelyard.scheduler.repository import JobRepository
from modelyard.scheduler.settings import Settings


@dataclass
class Deps:
    settings: Settings
    pool: asyncpg.Pool
    store: ObjectStore
    rpc: RpcClient
    jobs: JobRepository = field(init=False)
    stale_reports: int = 0  # reports fenced off because their attempt is not the job's (logged too)

    def __post_init__(self) -> None:
        self.jobs = JobRepository(self.pool)
