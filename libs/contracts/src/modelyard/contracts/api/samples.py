"""Samples, their labels and annotations, reviews."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.config import JsonDict

from modelyard.contracts.api.paging import PageQuery

Unit = Field(ge=0.0, le=1.0)
_UNIT: JsonDict = {"type": "number", "minimum": 0.0, "maximum": 1.0}  # a normalised coordinate (`_normalised`)


class SampleKind(StrEnum):
    IMAGE = "image"
    SERIES = "series"
    AUDIO = "audio"


class SampleStatus(StrEnum):
    UNLABELED = "unlabeled"
    LABELED = "labeled"  # has at least one annotation, not yet reviewed
    VERIFIED = "verified"  # a reviewer approved it
    REJECTED = "rejected"  # a reviewer rejected it


class Split(StrEnum):
    TRAIN = "train"
    VAL = "val"


class Box(BaseModel):
    """A YOLO box: class index and centre/size normalised to the image (0..1)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    class_id: int = Field(ge=0)
    x: float = Unit
    y: float = Unit
    w: float = Unit
    h: float = Unit


class Polygon(BaseModel):
    """A YOLO segment: class index and at least three normalised points."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    class_id: int = Field(ge=0)
    points: list[tuple[float, float]] = Field(
        min_length=3,
        json_schema_extra={"items": {"type": "array", "prefixItems": [_UNIT, _UNIT], "minItems": 2, "maxItems": 2}},
    )

    @model_validator(mode="after")
    def _normalised(self) -> Polygon:
        if any(not (0.0 <= c <= 1.0) for point in self.points for c in point):
            raise ValueError("polygon points must be normalised to 0..1")
        return self


class Labels(BaseModel):
    """What a sample is labelled with; which parts apply depends on the dataset's task."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    boxes: list[Box] = Field(default_factory=list)
    polygons: list[Polygon] = Field(default_factory=list)
    class_id: int | None = Field(default=None, ge=0, description="classification")
    value: float | None = Field(default=None, description="regression target")

    def class_ids(self) -> set[int]:
        ids = {b.class_id for b in self.boxes} | {p.class_id for p in self.polygons}
        return ids | ({self.class_id} if self.class_id is not None else set())

    @property
    def empty(self) -> bool:
        return not (self.boxes or self.polygons) and self.class_id is None and self.value is None


class SampleMetadata(BaseModel):
    model_config = ConfigDict(extra="allow")

    source_camera: str | None = None
    captured_at: datetime | None = None
    width: int | None = None
    height: int | None = None
    source_path: str | None = Field(default=None, description="the file's path in the upload it came from")


class Sample(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: UUID
    dataset_id: UUID
    org_id: UUID
    kind: SampleKind
    sha256: str
    size: int
    media_type: str
    labels: Labels
    rating: float | None
    split: Split | None
    status: SampleStatus
    quality: float | None
    agreement: float | None
    annotation_count: int
    metadata: SampleMetadata
    created_at: datetime
    updated_at: datetime


class SampleCreate(BaseModel):
    """Add one sample whose blob is already stored (by sha256): a frame from another dataset of the org, say."""

    model_config = ConfigDict(extra="forbid")

    dataset_id: UUID
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    kind: SampleKind = SampleKind.IMAGE
    labels: Labels = Field(default_factory=Labels)
    rating: float | None = Field(default=None, ge=0.0, le=1.0)
    split: Split | None = None
    metadata: SampleMetadata = Field(default_factory=SampleMetadata)


class SampleUpdate(BaseModel):
    """Change a sample's labels, rating, split or metadata. New labels are recorded as the caller's annotation."""

    model_config = ConfigDict(extra="forbid")

    dataset_id: UUID
    sample_id: UUID
    labels: Labels | None = None
    rating: float | None = Field(default=None, ge=0.0, le=1.0)
    split: Split | None = None
    metadata: SampleMetadata | None = None


class ReviewDecision(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"


class ReviewCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={  # `_reason_for_reject`, for clients that read the schema
            "if": {"properties": {"decision": {"const": "reject"}}, "required": ["decision"]},
            "then": {"properties": {"reason": {"type": "string", "pattern": r"\S"}}, "required": ["reason"]},
        },
    )

    dataset_id: UUID
    sample_id: UUID
    decision: ReviewDecision
    reason: str | None = Field(default=None, max_length=2000)

    @model_validator(mode="after")
    def _reason_for_reject(self) -> ReviewCreate:
        if self.decision is ReviewDecision.REJECT and not self.reason:
            raise ValueError("a rejection needs a reason")
        return self


class SampleRef(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dataset_id: UUID
    sample_id: UUID


class SampleQuery(PageQuery):
    dataset_id: UUID
    status: SampleStatus | None = None
    split: Split | None = None


class SampleList(BaseModel):
    samples: list[Sample]
    total: int


class Annotation(BaseModel):
    annotator: str
    labels: Labels
    rating: float | None
    created_at: datetime


class Review(BaseModel):
    reviewer: str
    decision: ReviewDecision
    reason: str | None
    created_at: datetime


class SampleDetail(Sample):
    annotations: list[Annotation]
    reviews: list[Review]
    download_url: str | None = None
