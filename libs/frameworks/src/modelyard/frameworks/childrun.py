"""A training child run as a test sees it: started the way the trainer starts it (argv from the framework's
`command`, stdout a pipe of protocol events, stderr a log file), its events read as they come, and killed at the
end if still running. Shared by the tests of the trainer and of every framework plugin."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modelyard.frameworks.protocol import ChildEvent, parse_event


@dataclass
class ChildRun:
    process: subprocess.Popen[bytes]
    stderr_path: Path
    events: list[Any] = field(default_factory=list)  # ChildEvents; Any, so tests read each type's own fields
    raw_lines: list[str] = field(default_factory=list)

    def next_event(self) -> ChildEvent | None:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            return None
        text = line.decode()
        self.raw_lines.append(text)
        event = parse_event(text)  # every stdout line must be a protocol event
        self.events.append(event)
        return event

    def read_until(self, predicate: Callable[[ChildEvent], bool]) -> ChildEvent:
        while (event := self.next_event()) is not None:
            if predicate(event):
                return event
        raise AssertionError(f"stream ended without the awaited event; stderr:\n{self.stderr_tail()}")

    def finish(self, timeout: float = 120) -> int:
        while self.next_event() is not None:
            pass
        return self.process.wait(timeout=timeout)

    def of_type(self, kind: str) -> list[Any]:
        return [e for e in self.events if e.type == kind]

    def stderr_tail(self, chars: int = 4000) -> str:
        return self.stderr_path.read_text(errors="replace")[-chars:]


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment the worker would give the child (pytest's own variable left out)."""
    return {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"} | (extra or {})


def launch(argv: list[str], stderr_path: Path, env: dict[str, str] | None = None) -> ChildRun:
    with stderr_path.open("wb") as stderr:
        process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=stderr, env=env or child_env())
    return ChildRun(process, stderr_path)


def reap(run: ChildRun) -> None:
    """Kill the child if it still runs, and close its pipe."""
    if run.process.poll() is None:
        run.process.send_signal(signal.SIGKILL)
    run.process.wait(timeout=30)
    if run.process.stdout is not None:
        run.process.stdout.close()
