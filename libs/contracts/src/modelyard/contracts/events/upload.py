"""Upload lifecycle, on the DATASETS stream. UploadFinalized also starts the import (the dataset service
consumes it), so an import survives a restart of the service."""

from __future__ import annotations

from typing import Any, ClassVar
from uuid import UUID

from modelyard.contracts import subjects
from modelyard.contracts.api.uploads import UploadKind
from modelyard.contracts.envelope import Event


class UploadFinalized(Event):
    subject: ClassVar[str] = subjects.DATASET_UPLOAD_FINALIZED
    upload_id: UUID
    dataset_id: UUID
    kind: UploadKind
    size: int
    sha256: str


class UploadCompleted(Event):
    subject: ClassVar[str] = subjects.DATASET_UPLOAD_COMPLETED
    upload_id: UUID
    dataset_id: UUID
    imported: int
    skipped: int


class UploadFailed(Event):
    subject: ClassVar[str] = subjects.DATASET_UPLOAD_FAILED
    upload_id: UUID
    dataset_id: UUID
    error: str
    problems: list[dict[str, Any]] = []


class UploadExpired(Event):
    subject: ClassVar[str] = subjects.DATASET_UPLOAD_EXPIRED
    upload_id: UUID
    dataset_id: UUID
    received_chunks: int
