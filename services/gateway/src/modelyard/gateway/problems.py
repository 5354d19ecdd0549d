"""ProblemDetails responses (RFC 9457) for every error the gateway returns."""

from __future__ import annotations

from aiohttp import web

from modelyard.contracts.api.problems import PROBLEM_CONTENT_TYPE, ProblemDetails, problem_type


def respond(
    problem: ProblemDetails, *, instance: str | None = None, headers: dict[str, str] | None = None
) -> web.Response:
    if instance and problem.instance is None:
        problem = problem.model_copy(update={"instance": instance})
    return web.Response(
        status=problem.status,
        body=problem.model_dump_json(exclude_none=True),
        content_type=PROBLEM_CONTENT_TYPE.split(";")[0],
        headers=headers,
    )


def from_http_error(exc: web.HTTPException, correlation_id: str) -> ProblemDetails:
    """aiohttp's own errors (unknown route, wrong method, body too large) as problems."""
    slug = exc.reason.lower().replace(" ", "-")
    return ProblemDetails(
        type=problem_type(slug),
        title=exc.reason,
        status=exc.status,
        detail=exc.text if exc.text != f"{exc.status}: {exc.reason}" else None,
        correlation_id=correlation_id,
    )
