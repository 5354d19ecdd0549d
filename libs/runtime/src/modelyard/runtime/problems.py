"""Error categories every service shares, and their translation to ProblemDetails.

A service defines its own leaves (`class DatasetNotFound(NotFound)`) in its errors.py; the category decides the
HTTP status the gateway answers with. Anything that is not a ServiceError becomes a 500 without internals.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import ValidationError

from modelyard.contracts.api.problems import FieldError, ProblemDetails, problem_type


class ServiceError(Exception):
    status: ClassVar[int] = 500
    slug: ClassVar[str] = "internal"
    title: ClassVar[str] = "Internal error"

    def __init__(self, detail: str, *, errors: list[FieldError] | None = None, **data: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors
        self.data = data

    def problem(self, correlation_id: str | None = None) -> ProblemDetails:
        return ProblemDetails(
            type=problem_type(self.slug),
            title=self.title,
            status=self.status,
            detail=self.detail,
            correlation_id=correlation_id,
            errors=self.errors,
        )


class BadRequest(ServiceError):
    status, slug, title = 400, "bad-request", "Bad request"


class InvalidInput(ServiceError):
    status, slug, title = 422, "validation", "Validation failed"


class Unauthorized(ServiceError):
    status, slug, title = 401, "unauthorized", "Authentication required"


class Forbidden(ServiceError):
    status, slug, title = 403, "forbidden", "Not allowed"


class NotFound(ServiceError):
    status, slug, title = 404, "not-found", "Not found"


class Conflict(ServiceError):
    status, slug, title = 409, "conflict", "Conflict"


class QuotaExceeded(ServiceError):
    status, slug, title = 429, "quota-exceeded", "Quota exceeded"


class RateLimited(ServiceError):
    status, slug, title = 429, "rate-limited", "Too many requests"


class Unavailable(ServiceError):
    status, slug, title = 503, "unavailable", "Service unavailable"


def field_errors(exc: ValidationError, prefix: str = "") -> list[FieldError]:
    """pydantic's errors as per-field entries: `{"field": "name", "message": "...", "code": "string_too_short"}`."""
    out = []
    for err in exc.errors(include_url=False, include_input=False):
        path = ".".join(str(p) for p in err["loc"])
        out.append(FieldError(field=(prefix + path) or "body", message=err["msg"], code=err["type"]))
    return out


def invalid(exc: ValidationError, prefix: str = "") -> InvalidInput:
    errors = field_errors(exc, prefix)
    names = ", ".join(sorted({e.field for e in errors}))
    return InvalidInput(f"invalid fields: {names}", errors=errors)
