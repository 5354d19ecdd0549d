"""What every `modelyard` command group shares: finding the stack, running a call with the typed client, and
turning API and network errors into readable messages and exit codes (never a traceback)."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Awaitable, Callable
from typing import TypeVar

import httpx
import pydantic
import typer
from rich.console import Console
from rich.markup import escape

from modelyard.client import stackfile
from modelyard.client.api import ApiError, ModelyardClient
from modelyard.contracts.api.problems import ProblemDetails

T = TypeVar("T")
err = Console(stderr=True, soft_wrap=True, highlight=False)
PIPED_WIDTH = 160  # tables piped or captured are not squeezed into 80 columns


def stdout() -> Console:
    console = Console(highlight=False)
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console = Console(highlight=False, width=PIPED_WIDTH)
    return console


# -- plumbing -----------------------------------------------------------------------------------------------------


def target() -> stackfile.Target:
    target = stackfile.resolve()
    if not target.gateway_url:
        err.print(
            "[red]no stack found[/]: run `modelyard dev up` (it writes .modelyard/stack.json), "
            "or set MODELYARD_GATEWAY_URL and MODELYARD_TOKEN"
        )
        raise typer.Exit(2)
    return target


def print_problem(problem: ProblemDetails) -> None:
    """A ProblemDetails, readable: status and title, the detail, each field error, the correlation id."""
    line = f"[bold red]error {problem.status} {escape(problem.title)}[/]"
    if problem.detail:
        line += f"[red]: {escape(problem.detail)}[/]"
    err.print(line)
    for error in problem.errors or []:
        err.print(f"[red]  {escape(error.field)}: {escape(error.message)} ({escape(error.code)})[/]")
    if problem.correlation_id:
        err.print(f"[dim]  correlation id {escape(problem.correlation_id)}[/]")


def run(
    work: Callable[[ModelyardClient], Awaitable[T]], *, timeout_s: float = 30.0, interrupted: str = "interrupted"
) -> T:
    """Run `work` with a client of the resolved gateway; API and network errors become messages and exit codes."""
    found = target()
    url = found.gateway_url or ""

    async def go() -> T:
        async with ModelyardClient(url, found.token, timeout_s=timeout_s) as api:
            return await work(api)

    try:
        return asyncio.run(go())
    except ApiError as exc:
        print_problem(exc.problem)
        raise typer.Exit(1) from None
    except httpx.HTTPError as exc:
        reason = str(exc) or type(exc).__name__
        err.print(f"[red]cannot talk to the gateway at {escape(url)}[/]: {escape(reason)}")
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        err.print(f"[yellow]{escape(interrupted)}[/]")
        raise typer.Exit(130) from None


def print_json(model: pydantic.BaseModel) -> None:
    sys.stdout.write(model.model_dump_json(indent=2) + "\n")
    sys.stdout.flush()
