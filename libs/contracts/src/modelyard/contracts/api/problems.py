"""RFC 9457 problem details: the one error shape of the HTTP API and of service replies."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

PROBLEM_CONTENT_TYPE = "application/problem+json"
PROBLEM_BASE = "https://modelyard.dev/problems/"


class FieldError(BaseModel):
    model_config = ConfigDict(frozen=True)

    field: str = Field(description="dotted path of the offending field, e.g. 'name' or 'overrides.epochs'")
    message: str
    code: str = "invalid"


class ProblemDetails(BaseModel):
    model_config = ConfigDict(frozen=True)

    type: str = Field(description="URI naming the kind of problem")
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    correlation_id: str | None = None
    errors: list[FieldError] | None = Field(default=None, description="per-field errors, for validation problems")


def problem_type(slug: str) -> str:
    return PROBLEM_BASE + slug
