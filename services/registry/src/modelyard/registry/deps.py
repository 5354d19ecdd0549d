"""What the registry's handlers and consumer share."""

from __future__ import annotations

from dataclasses import dataclass, field

import asyncpg

from modelyard.registry.repository import Models, Modules, OrgSettings, Releases
from modelyard.registry.settings import Settings
from modelyard.registry.signing import Signer
from modelyard.runtime.storage import ObjectStore


@dataclass
class Deps:
    settings: Settings
    pool: asyncpg.Pool
    store: ObjectStore
    signer: Signer
    models: Models = field(init=False)
    modules: Modules = field(init=False)
    releases: Releases = field(init=False)
    org_settings: OrgSettings = field(init=False)

    def __post_init__(self) -> None:
        self.models = Models(self.pool)
        self.modules = Modules()
        self.releases = Releases(self.pool)
        self.org_settings = OrgSettings(self.pool)
