"""Resumable chunked uploads: create, send chunks in any order (each with its sha256), ask what is missing,
finalize (whole-file sha256 checked), then the import runs and the upload ends completed or failed."""

from __future__ import annotations

import math
from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, model_validator

MIN_CHUNK = 5 * 1024 * 1024  # S3 multipart: every part but the last is at least 5 MiB
MAX_CHUNK = 512 * 1024 * 1024
MAX_CHUNKS = 10_000
SHA256 = r"^[0-9a-fA-F]{64}$"


class UploadKind(StrEnum):
    YOLO_ZIP = "yolo_zip"
    ANNOTATIONS_JSONL = "annotations_jsonl"
    CSV_SERIES = "csv_series"
    AUDIO_ZIP = "audio_zip"


class UploadState(StrEnum):
    RECEIVING = "receiving"
    IMPORTING = "importing"
    COMPLETED = "completed"
    FAILED = "failed"
    EXPIRED = "expired"

    @property
    def final(self) -> bool:
        return self in (UploadState.COMPLETED, UploadState.FAILED, UploadState.EXPIRED)


class UploadCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    dataset_id: UUID
    filename: str = Field(min_length=1, max_length=255, pattern=r"^[^/\\\x00]+$")
    kind: UploadKind
    size: int = Field(gt=0)
    sha256: str = Field(pattern=SHA256)
    chunk_size: int = Field(default=16 * 1024 * 1024, ge=MIN_CHUNK, le=MAX_CHUNK)

    @model_validator(mode="after")
    def _not_too_many_chunks(self) -> UploadCreate:
        if chunk_count(self.size, self.chunk_size) > MAX_CHUNKS:
            raise ValueError(f"more than {MAX_CHUNKS} chunks: use a larger chunk_size")
        return self


def chunk_count(size: int, chunk_size: int) -> int:
    return max(1, math.ceil(size / chunk_size))


class UploadRef(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: UUID


class ChunkTarget(BaseModel):
    """Asked by the gateway before it streams a chunk: where to put it and how big it must be."""

    model_config = ConfigDict(extra="forbid")

    id: UUID
    index: int = Field(ge=0, lt=MAX_CHUNKS)


class ChunkDestination(BaseModel):
    url: str
    expected_size: int


class ChunkReceived(BaseModel):
    """Reported by the gateway once a chunk is stored and its sha256 matched the client's."""

    model_config = ConfigDict(extra="forbid")

    id: UUID
    index: int = Field(ge=0, lt=MAX_CHUNKS)
    size: int = Field(ge=0)
    sha256: str = Field(pattern=SHA256)
    etag: str = Field(min_length=1)


class Upload(BaseModel):
    id: UUID
    org_id: UUID
    dataset_id: UUID
    filename: str
    kind: UploadKind
    size: int
    sha256: str
    chunk_size: int
    chunk_count: int
    state: UploadState
    received: list[int]
    missing: list[int]
    received_bytes: int
    error: str | None = None
    problems: list[dict[str, Any]] = Field(default_factory=list, description="per file and line, when an import failed")
    imported_samples: int = 0
    skipped_samples: int = 0
    created_by: str
    created_at: datetime
    updated_at: datetime
    expires_at: datetime
