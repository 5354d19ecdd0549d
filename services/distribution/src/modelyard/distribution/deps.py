"""What distribution's handlers and consumers share."""

from __future__ import annotations

from dataclasses import dataclass, field

import asyncpg

from modelyard.distribution.repository import Deployments, Devices
from modelyard.distribution.settings import Settings
from modelyard.runtime.rpc import RpcClient
from modelyard.runtime.storage import ObjectStore


@dataclass
class Deps:
    settings: Settings
    pool: asyncpg.Pool
    store: ObjectStore
    rpc: RpcClient
    devices: Devices = field(init=False)
    deployments: Deployments = field(init=False)

    def __post_init__(self) -> None:
        self.devices = Devices(self.pool)
        self.deployments = Deployments(self.pool)
