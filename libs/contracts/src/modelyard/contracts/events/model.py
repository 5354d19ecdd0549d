"""Registry facts on the MODELS stream: a version registered, its lifecycle steps, its signed releases."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar
from uuid import UUID

from modelyard.contracts import subjects
from modelyard.contracts.api.models import ModelStatus, ReleaseFile
from modelyard.contracts.envelope import Event


class ModelRegistered(Event):
    subject: ClassVar[str] = subjects.MODEL_REGISTERED
    model_id: UUID
    ai_module: str
    version: str
    job_id: UUID
    metrics: dict[str, float]


class ModelStatusChanged(Event):
    subject: ClassVar[str] = subjects.MODEL_STATUS_TEMPLATE  # model.status.<status>
    model_id: UUID
    ai_module: str
    version: str
    status: ModelStatus
    previous: ModelStatus
    reason: str


class ModelReleased(Event):
    """A signed release: what distribution ships. `counter` strictly increases per module; a rollback or a revert
    to the default is a new release with a higher counter pointing at an older version's artifacts."""

    subject: ClassVar[str] = subjects.MODEL_RELEASED
    release_id: UUID
    model_id: UUID
    ai_module: str
    version: str
    counter: int
    kind: str
    files: list[ReleaseFile]
    signature_key: str
    key_id: str
    expires_at: datetime
    reason: str


class DefaultModelSet(Event):
    subject: ClassVar[str] = subjects.MODEL_DEFAULT_SET
    model_id: UUID
    ai_module: str
    version: str
    reason: str
