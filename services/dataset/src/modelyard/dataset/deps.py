"""What the handlers and workers of the dataset service share, built once per process."""

from __future__ import annotations

from dataclasses import dataclass, field

import asyncpg

from modelyard.dataset.repository.datasets import DatasetRepository
from modelyard.dataset.repository.samples import SampleRepository
from modelyard.dataset.repository.uploads import UploadRepository
from modelyard.dataset.repository.versions import VersionRepository
from modelyard.dataset.settings import Settings
from modelyard.runtime.storage import ObjectStore


@dataclass
class Deps:
    settings: Settings
    pool: asyncpg.Pool
    store: ObjectStore
    datasets: DatasetRepository = field(init=False)
    uploads: UploadRepository = field(init=False)
    samples: SampleRepository = field(init=False)
    versions: VersionRepository = field(init=False)

    def __post_init__(self) -> None:
        self.datasets = DatasetRepository(self.pool)
        self.uploads = UploadRepository(self.pool)
        self.samples = SampleRepository(self.pool)
        self.versions = VersionRepository(self.pool)
