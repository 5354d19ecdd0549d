"""Pagination shared by every list endpoint: `limit`/`offset` in, `total` out."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class PageQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    limit: int = Field(default=50, ge=1, le=500)
    offset: int = Field(default=0, ge=0)


class NoQuery(BaseModel):
    """For requests that take no parameters: anything sent is an error."""

    model_config = ConfigDict(extra="forbid")
