"""`modelyard dev up`: the whole platform on one machine, without Docker.

Starts nats-server, PostgreSQL and S3 (libs/embedded) with data under the root folder (kept across restarts), makes
the database, bootstraps a default org and super admin (key in `<root>/admin-token`, mode 0600), starts every
installed service as its own process, and writes `<root>/stack.json`. `stop()` (Ctrl-C, SIGTERM) stops services
first, then servers, and leaves no process behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import importlib.util
import json
import os
import secrets
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import nats

from modelyard.client import stackfile
from modelyard.contracts import subjects
from modelyard.embedded.ports import free_port
from modelyard.embedded.process import ManagedProcess, ServerStartError
from modelyard.embedded.stack import EmbeddedStack

# Services in start order; the gateway last, once the services behind it answer. Only installed ones start.
SERVICES = ("dataset", "scheduler", "trainer", "registry", "distribution", "gateway")
DATABASE = "modelyard"
EDGE_AGENT = "dev-edge-1"
PORTS_FILE = "ports.json"


@dataclass
class DevStack:
    root: Path
    gateway_host: str = "127.0.0.1"
    gateway_port: int = 8080
    log_format: str = "console"
    servers: EmbeddedStack | None = None
    services: dict[str, ManagedProcess] = field(default_factory=dict)

    def start(self) -> stackfile.StackInfo:
        self.root.mkdir(parents=True, exist_ok=True)
        try:
            return self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> stackfile.StackInfo:
        servers = {k: v for k, v in self._ports().items() if k != EDGE_AGENT}
        self.servers = EmbeddedStack(self.root, fsync=True, ports=servers)
        self.servers.start()
        self._remember_ports()
        self.servers.postgres.create_database(DATABASE, exist_ok=True)  # there already on a restart
        self._run_once("gateway", ["bootstrap", "--token-file", str(self.root / stackfile.TOKEN_FILE)])
        for name in SERVICES:
            if importlib.util.find_spec(f"modelyard.{name}") is not None:
                self._start_service(name)
        nats_url = self.servers.nats.url
        for name, proc in self.services.items():
            if name not in ("gateway", EDGE_AGENT):
                proc.wait_ready(functools.partial(_answers, nats_url, name), 60, proc.name)
        gateway = f"http://{self.gateway_host}:{self.gateway_port}"
        self._wait_http(f"{gateway}/healthz", self.services["gateway"])
        edge_agents = {}
        if importlib.util.find_spec("modelyard.edge") is not None and "distribution" in self.services:
            edge_agents[EDGE_AGENT] = self._start_edge_agent(gateway)
        info = stackfile.StackInfo(
            gateway=gateway,
            nats=self.servers.nats.url,
            s3=self.servers.s3.endpoint,
            postgres=self.servers.postgres.dsn_for(DATABASE),
            edge_agents=edge_agents,
            pids={name: proc.pid for name, proc in self.services.items() if proc.pid is not None} | self._server_pids(),
        )
        stackfile.write(self.root, info)
        return info

    def stop(self) -> None:
        for proc in reversed(list(self.services.values())):
            with contextlib.suppress(Exception):
                proc.stop(timeout=10)
        self.services.clear()
        if self.servers is not None:
            self.servers.stop()
            self.servers = None
        (self.root / stackfile.STACK_FILE).unlink(missing_ok=True)

    # -- helpers ---------------------------------------------------------------------------------------------

    def _env(self, name: str) -> dict[str, str]:
        assert self.servers is not None
        prefix = f"MODELYARD_{name.upper()}_"
        env = dict(os.environ)
        env |= {
            prefix + "NATS_URL": self.servers.nats.url,
            prefix + "DATABASE_URL": self.servers.postgres.dsn_for(DATABASE),
            prefix + "S3_ENDPOINT": self.servers.s3.endpoint,
            prefix + "S3_ACCESS_KEY": self.servers.s3.access_key,
            prefix + "S3_SECRET_KEY": self.servers.s3.secret_key,
            prefix + "LOG_FORMAT": self.log_format,
        }
        if name == "trainer":
            env |= {prefix + "WORK_DIR": str(self.root / "trainer"), prefix + "POOL": "cpu"}
        if name == "registry":  # the dev stack makes its release signing key on first start, and keeps it
            env |= {
                prefix + "SIGNING_KEY_PATH": str(self.root / "keys" / "release-signing.pem"),
                prefix + "CREATE_SIGNING_KEY": "true",
                prefix + "WORK_DIR": str(self.root / "registry"),
            }
        if name == "gateway":  # tokens made before a restart stay valid: the secret is kept beside the data
            env |= {prefix + "HOST": self.gateway_host, prefix + "PORT": str(self.gateway_port)}
            env.setdefault(prefix + "TOKEN_SECRET", self._secret("token-secret"))
        return env

    def _secret(self, name: str) -> str:
        path = self.root / "keys" / name
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_urlsafe(32))
        return path.read_text().strip()

    def _start_service(self, name: str) -> None:
        proc = ManagedProcess(
            [sys.executable, "-m", f"modelyard.{name}"],
            name=f"modelyard.{name}",
            log_path=self.root / "logs" / f"{name}.log",
            pidfile=self.root / "pids" / f"{name}.pid",
            env=self._env(name),
        )
        proc.start()
        self.services[name] = proc

    def _run_once(self, name: str, args: list[str]) -> None:
        proc = ManagedProcess(
            [sys.executable, "-m", f"modelyard.{name}", *args],
            name=f"modelyard.{name}",
            log_path=self.root / "logs" / f"{name}-{args[0]}.log",
            pidfile=self.root / "pids" / f"{name}-{args[0]}.pid",
            env=self._env(name),
        )
        proc.start()
        deadline = time.monotonic() + 60
        while proc.running and time.monotonic() < deadline:
            time.sleep(0.05)
        code = proc.returncode
        proc.stop()
        if code != 0:
            raise ServerStartError(f"{name} {args[0]} failed (exit {code})", proc.log_tail())

    def _start_edge_agent(self, gateway: str) -> str:
        """One agent, `dev-edge-1`: enrolled on its first start (a one-time token from the gateway), then it comes
        back with the identity and models kept in its state dir."""
        assert self.servers is not None
        state = self.root / "edge" / EDGE_AGENT
        port = self._ports().get(EDGE_AGENT) or free_port()
        argv = [sys.executable, "-m", "modelyard.edge", "--state-dir", str(state), "--name", EDGE_AGENT]
        argv += ["--port", str(port)]
        if not (state / "identity.json").is_file():
            token = _enrollment_token(gateway, (self.root / stackfile.TOKEN_FILE).read_text().strip())
            argv += ["--gateway", gateway, "--enrollment-token", token, "--nats-url", self.servers.nats.url]
        proc = ManagedProcess(
            argv,
            name="modelyard.edge",
            log_path=self.root / "logs" / f"{EDGE_AGENT}.log",
            pidfile=self.root / "pids" / f"{EDGE_AGENT}.pid",
            env=dict(os.environ),
        )
        proc.start()
        self.services[EDGE_AGENT] = proc
        url = f"http://127.0.0.1:{port}"
        self._wait_http(f"{url}/healthz", proc)
        ports = self._ports() | {EDGE_AGENT: port}
        (self.root / PORTS_FILE).write_text(json.dumps(ports, indent=2) + "\n")
        return url

    def _wait_http(self, url: str, proc: ManagedProcess, timeout: float = 60.0) -> None:
        def ok() -> bool:
            with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 - our own loopback URL
                return bool(response.status == 200)

        proc.wait_ready(ok, timeout, proc.name)

    def _ports(self) -> dict[str, int]:
        path = self.root / PORTS_FILE
        ports: dict[str, int] = json.loads(path.read_text()) if path.is_file() else {}
        return ports

    def _remember_ports(self) -> None:
        assert self.servers is not None
        ports = self._ports() | {
            "nats": self.servers.nats.port,
            "postgres": self.servers.postgres.port,
            "s3": self.servers.s3.port,
        }
        (self.root / PORTS_FILE).write_text(json.dumps(ports, indent=2) + "\n")

    def _server_pids(self) -> dict[str, int]:
        assert self.servers is not None
        pids = {"nats": self.servers.nats.pid, "postgres": self.servers.postgres.pid, "s3": self.servers.s3.pid}
        return {name: pid for name, pid in pids.items() if pid is not None}


def _enrollment_token(gateway: str, admin_token: str) -> str:
    request = urllib.request.Request(  # noqa: S310 - our own loopback URL
        f"{gateway}/api/v1/devices/enrollment-tokens",
        data=json.dumps({"labels": {"stack": "dev"}}).encode(),
        headers={"Authorization": f"Bearer {admin_token}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        token: str = json.loads(response.read())["token"]
        return token


def _answers(nats_url: str, service: str) -> bool:
    """True when the service answers its health subject (it has started its subscribers)."""

    async def ping() -> bool:
        nc = await nats.connect(nats_url, connect_timeout=2, max_reconnect_attempts=0)
        try:
            await nc.request(subjects.service_health(service), b"", timeout=0.5)
            return True
        except (nats.errors.NoRespondersError, nats.errors.TimeoutError):
            return False
        finally:
            await nc.close()

    return asyncio.run(ping())


def pick_gateway_port(requested: int) -> int:
    return free_port() if requested == 0 else requested
