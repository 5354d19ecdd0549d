"""Reading a JSON request body, with ProblemDetails on every kind of bad input."""

from __future__ import annotations

import json
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from modelyard.contracts.api.problems import FieldError
from modelyard.runtime.problems import BadRequest, InvalidInput, invalid

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
    check_text(data)
    return data


async def read(request: web.Request, model: type[M]) -> M:
    data = await read_object(request)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise invalid(exc) from None


def check_text(value: Any, at: str = "") -> None:
    """Every string (and object key) is text the services can store: no NUL, which PostgreSQL's text and jsonb
    refuse (a 500 deep in a service otherwise), and no lone surrogate, which is no character at all (JSON's
    `\\ud800` escape) and cannot be encoded to send on. 422 naming the field."""
    problem = _bad_text(value) if isinstance(value, str) else None
    if problem:
        raise InvalidInput(
            f"{at or 'body'} {problem}", errors=[FieldError(field=at or "body", message=problem, code="invalid_text")]
        )
    if isinstance(value, dict):
        for key, item in value.items():
            check_text(key, at)
            check_text(item, f"{at}.{key}" if at else str(key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            check_text(item, f"{at}.{i}" if at else str(i))


def _bad_text(text: str) -> str | None:
    if "\x00" in text:
        return "may not contain NUL (\\u0000) characters"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "is not valid Unicode (a lone surrogate)"
    return None
