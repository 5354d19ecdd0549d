"""Datasets."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.json_schema import SkipJsonSchema

from modelyard.contracts.api.paging import PageQuery


class Task(StrEnum):
    DETECT = "detect"
    SEGMENT = "segment"
    CLASSIFY = "classify"
    REGRESS = "regress"
    AUDIO_CLASSIFY = "audio_classify"
    FORECAST = "forecast"


class Environment(StrEnum):
    DEV = "dev"
    STAGING = "staging"
    PRODUCTION = "production"


class DatasetStatus(StrEnum):
    DRAFT = "draft"
    ACTIVE = "active"
    ARCHIVED = "archived"


class DatasetCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=200)
    task: Task
    ai_module: str | None = Field(default=None, min_length=1, max_length=100)
    description: str | None = Field(default=None, max_length=4000)
    environment: Environment = Environment.DEV
    class_names: list[str] = Field(default_factory=list, max_length=10000)


class DatasetGet(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: UUID


class DatasetQuery(PageQuery):
    ai_module: str | None = None
    task: Task | None = None
    environment: Environment | None = None
    status: DatasetStatus | None = None


class DatasetUpdate(BaseModel):
    """PATCH: only the fields given change. Class names may only grow (labels refer to them by index).

    `description` and `ai_module` can be cleared with null; a dataset always has a name, an environment, a status
    and a class list, so those take a value or stay out (None below means "not given", never "set to null")."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    id: UUID
    name: str | SkipJsonSchema[None] = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=4000)
    ai_module: str | None = Field(default=None, min_length=1, max_length=100)
    environment: Environment | SkipJsonSchema[None] = None
    status: DatasetStatus | SkipJsonSchema[None] = None
    class_names: list[str] | SkipJsonSchema[None] = Field(default=None, max_length=10000)

    @field_validator("name", "environment", "status", "class_names", mode="before")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("may not be null: leave the field out to keep its value")
        return value


class Dataset(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: UUID
    org_id: UUID
    name: str
    description: str | None
    ai_module: str | None
    task: Task
    environment: Environment
    status: DatasetStatus
    class_names: list[str]
    sample_count: int = 0
    labeled_count: int = 0
    verified_count: int = 0
    created_by: str
    created_at: datetime
    updated_at: datetime


class DatasetList(BaseModel):
    datasets: list[Dataset]
    total: int


class ClassCount(BaseModel):
    class_id: int
    name: str | None
    samples: int
    instances: int


class DatasetStats(BaseModel):
    dataset_id: UUID
    samples: int
    by_status: dict[str, int]
    labeled: int
    verified: int
    rejected: int
    class_balance: list[ClassCount]
    average_rating: float | None
    rated: int
    first_captured_at: datetime | None
    last_captured_at: datetime | None
    first_added_at: datetime | None
    last_added_at: datetime | None
