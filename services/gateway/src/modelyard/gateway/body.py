"""Reading a JSON request body, with ProblemDetails on every kind of bad input."""

from __future__ import annotations

import json
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from modelyard.runtime.problems import BadRequest, invalid

M = TypeVar("M", bound=BaseModel)


async def read_object(request: web.Request) -> dict[str, Any]:
    raw = await request.read()
    try:
        data = json.loads(raw or b"null")
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BadRequest(f"the body is not valid JSON: {exc}") from None
    if data is None and not raw:
        return {}
    if not isinstance(data, dict):
        raise BadRequest("the body must be a JSON object")
    return data


async def read(request: web.Request, model: type[M]) -> M:
    data = await read_object(request)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise invalid(exc) from None
