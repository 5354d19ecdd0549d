"""The lifecycle the launchers share: ports chosen at start, one ManagedProcess, readiness, stop.

A launcher subclasses EmbeddedServer and supplies only what is specific to its binary: the argv,
the readiness check and whatever its data directory needs before the first start.
"""

from __future__ import annotations

import signal
from abc import ABC, abstractmethod
from pathlib import Path
from types import TracebackType
from typing import ClassVar, Self

from modelyard.embedded.ports import choose_port, retry_on_port_clash
from modelyard.embedded.process import ManagedProcess


class Startable(ABC):
    """start()/stop(), and a context manager that starts on entry and stops on exit."""

    @abstractmethod
    def start(self) -> Self: ...

    @abstractmethod
    def stop(self) -> None: ...

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


class EmbeddedServer(Startable):
    """One server binary storing its state under `data_dir`, listening on `host`:`port`.

    A port left as None is a random free loopback port, chosen at start (and kept on restart while
    free). The process logs to data_dir/<binary>.log and records its PID in data_dir/<binary>.pid.
    """

    binary: ClassVar[str]
    """The executable's name, as ManagedProcess and kill_stale know it."""
    ready_timeout: ClassVar[float]
    stop_signal: ClassVar[int] = signal.SIGTERM

    def __init__(self, data_dir: Path, *, host: str, port: int | None) -> None:
        self.data_dir = Path(data_dir)
        self.host = host
        self._fixed_port = port
        self._port = port
        self._process: ManagedProcess | None = None

    def _known(self, port: int | None, what: str = "port") -> int:
        if port is None:
            raise RuntimeError(f"{type(self).__name__} has no {what} until it is started")
        return port

    @property
    def port(self) -> int:
        return self._known(self._port)

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.running

    def start(self) -> Self:
        if self.running:
            return self
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._prepare()
        retry_on_port_clash(self._start_once, random_ports=self._random_ports())
        return self

    def _start_once(self) -> None:
        self._choose_ports()
        process = ManagedProcess(
            self._argv(),
            name=self.binary,
            log_path=self.data_dir / f"{self.binary}.log",
            pidfile=self.data_dir / f"{self.binary}.pid",
            env=self._env(),
            cwd=self.data_dir,
            stop_signal=self.stop_signal,
        )
        self._process = process
        self._before_spawn(process)
        process.start()
        try:
            process.wait_ready(self._ready, self.ready_timeout, self._describe())
        except BaseException:
            process.stop()
            raise
        self._after_ready()

    def stop(self, timeout: float = 10.0) -> None:
        if self._process is not None:
            self._process.stop(timeout)
            self._after_stop()

    # What a launcher supplies.

    @abstractmethod
    def _argv(self) -> list[str]:
        """The command line, once _choose_ports has set the ports."""

    @abstractmethod
    def _ready(self) -> bool:
        """True once the server answers as it should."""

    @abstractmethod
    def _describe(self) -> str:
        """What is starting, for error messages: "<binary> on <address>"."""

    def _prepare(self) -> None:
        """Set up data_dir (which exists by now) before the first attempt to start."""

    def _random_ports(self) -> bool:
        """Whether a port is chosen at random, so that a clash is worth another attempt."""
        return self._fixed_port is None

    def _choose_ports(self) -> None:
        """Pick the ports for one attempt to start."""
        self._port = choose_port(self._fixed_port, self._port, self.host)

    def _env(self) -> dict[str, str] | None:
        """The environment of the process; None inherits ours."""
        return None

    def _before_spawn(self, process: ManagedProcess) -> None:
        """Called with the process about to be started."""

    def _after_ready(self) -> None:
        """Called once the server is ready."""

    def _after_stop(self) -> None:
        """Called after the process was stopped."""
