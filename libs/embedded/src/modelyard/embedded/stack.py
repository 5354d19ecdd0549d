"""NATS, PostgreSQL and S3 together under one root directory, started and stopped in parallel."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from modelyard.embedded.nats import NatsServer
from modelyard.embedded.postgres import PostgresServer
from modelyard.embedded.s3 import S3Server
from modelyard.embedded.server import Startable

# Keys accepted in EmbeddedStack(ports=...); a missing key means a random free port.
PORT_KEYS = ("nats", "nats_monitor", "postgres", "s3")


class EmbeddedStack(Startable):
    """The three servers with data in root/"nats", root/"postgres" and root/"s3" (kept across restarts).

    Servers that are already running are left alone by start(), so parts may be started on their own.
    """

    def __init__(self, root: Path, *, fsync: bool = True, ports: Mapping[str, int] | None = None) -> None:
        ports = dict(ports or {})
        unknown = set(ports) - set(PORT_KEYS)
        if unknown:
            raise ValueError(f"unknown port keys {sorted(unknown)}; expected some of {PORT_KEYS}")
        self.root = Path(root)
        self.nats = NatsServer(self.root / "nats", port=ports.get("nats"), monitor_port=ports.get("nats_monitor"))
        self.postgres = PostgresServer(self.root / "postgres", port=ports.get("postgres"), fsync=fsync)
        self.s3 = S3Server(self.root / "s3", port=ports.get("s3"))

    @property
    def running(self) -> bool:
        return self.nats.running and self.postgres.running and self.s3.running

    def start(self) -> EmbeddedStack:
        """Start all three in parallel; if one fails, stop the others and re-raise its error."""
        errors = _run_parallel([self.nats.start, self.postgres.start, self.s3.start])
        if errors:
            try:
                self.stop()
            except Exception as stop_error:  # noqa: BLE001 - the start error is the one to raise
                errors[0].add_note(f"stopping the other servers failed too: {stop_error!r}")
            raise errors[0]
        return self

    def stop(self) -> None:
        """Stop all three, even if stopping one of them fails; the first failure is raised at the end."""
        errors = _run_parallel([self.nats.stop, self.postgres.stop, self.s3.stop])
        if errors:
            raise errors[0]


def _run_parallel(calls: list[Callable[[], object]]) -> list[BaseException]:
    """Run the calls in threads, wait for all of them, and return the exceptions they raised, in order."""
    with ThreadPoolExecutor(max_workers=len(calls), thread_name_prefix="modelyard-embedded") as pool:
        futures = [pool.submit(call) for call in calls]
        return [error for future in futures if (error := future.exception()) is not None]
