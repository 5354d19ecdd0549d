"""Pagination shared by every list endpoint: `limit`/`offset` in, `total` out."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

# Counters and positions are PostgreSQL `integer`s: a larger number is a 422 here, not a 500 in a service.
INT32_MAX = 2**31 - 1


class PageQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    limit: int = Field(default=50, ge=1, le=500)
    offset: int = Field(default=0, ge=0, le=INT32_MAX)


class NoQuery(BaseModel):
    """For requests that take no parameters: anything sent is an error."""

    model_config = ConfigDict(extra="forbid")
