"""Small shapes used across the API."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class VersionInfo(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str = "modelyard"
    version: str
    api: str = "v1"


class Health(BaseModel):
    model_config = ConfigDict(frozen=True)

    status: str
    checks: dict[str, str]
