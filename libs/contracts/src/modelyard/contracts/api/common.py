"""Small shapes used across the API."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, WithJsonSchema

_SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$")


def _semver(value: str) -> str:
    if not _SEMVER.match(value):
        raise ValueError("must be a semantic version MAJOR.MINOR.PATCH, e.g. 1.4.0")
    return value


SemVer = Annotated[str, AfterValidator(_semver), WithJsonSchema({"type": "string", "pattern": _SEMVER.pattern})]


class VersionInfo(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str = "modelyard"
    version: str
    api: str = "v1"


class Health(BaseModel):
    model_config = ConfigDict(frozen=True)

    status: str
    checks: dict[str, str]
