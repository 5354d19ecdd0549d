"""Stopping background tasks for sure.

Python 3.11's `asyncio.wait_for` swallows a cancellation that arrives just as the awaited future completes (it
returns the result instead; fixed in 3.12, gh-86296). A loop that polls with short `wait_for` timeouts (nats-py's
`fetch`, an outbox relay waiting for NOTIFY) therefore survives a single `task.cancel()` now and then, and whoever
awaits it waits forever: a service that never stops, a test run that hangs until its CI deadline. `stop` cancels
again until the task has ended, within a bound."""

from __future__ import annotations

import asyncio
from typing import Any

from modelyard.runtime.logging import get_logger

log = get_logger(__name__)


async def stop(task: asyncio.Task[Any], timeout_s: float = 10.0, *, poll_s: float = 0.2) -> None:
    """Cancel `task` (repeatedly, if a cancellation is swallowed) and wait for it to end; log what it raised."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=poll_s)
        if not task.done() and loop.time() > deadline:
            log.warning("task.would_not_stop", task=task.get_name(), timeout_s=timeout_s)
            return
    if not task.cancelled() and (exc := task.exception()) is not None:
        log.warning("task.failed_while_stopping", task=task.get_name(), error=repr(exc))
