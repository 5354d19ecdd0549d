"""structlog, configured once per process: JSON in production, console in development. Correlation ids and other
per-message context come from contextvars (`bind`), so every line logged while handling a request carries them."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import structlog

from modelyard.runtime.settings import LogFormat


def configure_logging(service: str, fmt: LogFormat = LogFormat.JSON, level: str = "INFO") -> None:
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer()
        if fmt is LogFormat.JSON
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    structlog.configure(
        processors=[*shared, structlog.processors.format_exc_info, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelNamesMapping()[level.upper()]),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(service=service)
    # Libraries that use stdlib logging (aiohttp, asyncpg, nats) go to stderr at WARNING and above.
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s %(message)s")


@contextmanager
def bound(**values: Any) -> Iterator[None]:
    """Bind values (correlation_id, event_id, job_id, ...) for the duration of one request or message."""
    with structlog.contextvars.bound_contextvars(**values):
        yield


def get_logger(name: str | None = None) -> Any:
    return structlog.get_logger(name)
