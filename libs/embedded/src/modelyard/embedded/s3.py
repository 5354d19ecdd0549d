"""An S3 endpoint on loopback: `weed mini` (SeaweedFS master, volume, filer and S3 in one process).

Every port weed mini would bind is pinned (HTTP ports chosen so that port + 10000, its gRPC port,
is free too) or disabled, so several instances can run side by side.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import stat
import tempfile
from pathlib import Path

from modelyard.embedded.binaries import find_binary
from modelyard.embedded.ports import GRPC_OFFSET, choose_port
from modelyard.embedded.probes import http_get, http_status
from modelyard.embedded.server import EmbeddedServer
from modelyard.embedded.sigv4 import sign_get

READY_TIMEOUT_S = 30.0
REGION = "us-east-1"
# weed mini components whose HTTP port we pin; each also listens for gRPC on port + GRPC_OFFSET.
_COMPONENTS = ("master", "volume", "filer", "admin")


def _write_private(path: Path, text: str) -> None:
    """Write `text` to `path` with mode 0600, atomically."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.replace(tmp, path)


class S3Server(EmbeddedServer):
    """SeaweedFS S3 storing objects under `data_dir` (kept across restarts), with one admin identity.

    With `secret_key=None` the secret is read from data_dir/credentials.json, or generated and saved
    there (mode 0600) on first use, so clients keep working across restarts.
    A port left as None is a random free loopback port, chosen at start (and kept on restart while free).
    """

    binary = "weed"
    ready_timeout = READY_TIMEOUT_S

    def __init__(
        self,
        data_dir: Path,
        *,
        host: str = "127.0.0.1",
        port: int | None = None,
        access_key: str = "modelyard",
        secret_key: str | None = None,
    ) -> None:
        super().__init__(data_dir, host=host, port=port)
        self.access_key = access_key
        self.region = REGION
        self._internal_ports: dict[str, int] = {}
        self.secret_key = secret_key if secret_key is not None else self._load_or_create_secret()

    def _load_or_create_secret(self) -> str:
        path = self.data_dir / "credentials.json"
        if path.exists():
            return str(json.loads(path.read_text())["secret_key"])
        self.data_dir.mkdir(parents=True, exist_ok=True)
        secret = secrets.token_urlsafe(30)
        _write_private(path, json.dumps({"access_key": self.access_key, "secret_key": secret}, indent=2))
        return secret

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def internal_ports(self) -> dict[str, int]:
        """HTTP ports of the other weed mini components (master, volume, filer, admin)."""
        return dict(self._internal_ports)

    def _prepare(self) -> None:
        for sub in ("weed", "config"):
            (self.data_dir / sub).mkdir(parents=True, exist_ok=True)
        identities = self.data_dir / "identities.json"
        _write_private(identities, self._identities_json())

    def _random_ports(self) -> bool:
        return True  # internal ports are always random

    def _identities_json(self) -> str:
        identity = {
            "name": "admin",
            "credentials": [{"accessKey": self.access_key, "secretKey": self.secret_key}],
            "actions": ["Admin", "Read", "Write", "List", "Tagging"],
        }
        return json.dumps({"identities": [identity]}, indent=2)

    def _choose_ports(self) -> None:
        self._port = choose_port(self._fixed_port, self._port, self.host, GRPC_OFFSET)
        # Reusing the last internal ports while they are free keeps weed's master state in one
        # directory across restarts (weed keeps it in m<master port>/).
        saved = self._saved_ports()
        for component in _COMPONENTS:
            previous = self._internal_ports.get(component) or saved.get(component)
            self._internal_ports[component] = choose_port(None, previous, self.host, GRPC_OFFSET)

    def _argv(self) -> list[str]:
        ports = self._internal_ports
        return [
            str(find_binary("weed")),
            "-logtostderr",  # glog would otherwise write files into /tmp
            f"-config_dir={self.data_dir / 'config'}",  # no stray filer.toml/security.toml
            "mini",
            f"-dir={self.data_dir / 'weed'}",
            f"-ip={self.host}",
            f"-ip.bind={self.host}",
            f"-master.port={ports['master']}",
            f"-volume.port={ports['volume']}",
            f"-filer.port={ports['filer']}",
            f"-admin.port={ports['admin']}",
            f"-s3.port={self.port}",
            "-admin.ui=false",
            "-webdav=false",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            f"-s3.config={self.data_dir / 'identities.json'}",
            "-master.telemetry=false",
            "-volume.preStopSeconds=0",
            "-master.resumeState=false",
            # Every bucket is a SeaweedFS collection with volumes of its own. With the default 1 GiB volume size the
            # volume count is capped by free disk / 1 GiB (57 here): a test session that makes a bucket per test
            # runs out after ~57 and puts fail with 500. Small, sparse volumes and a high cap hold thousands.
            "-master.volumeSizeLimitMB=64",
            "-volume.max=4000",
        ]

    def _describe(self) -> str:
        return f"weed mini S3 on {self.endpoint}"

    def _after_ready(self) -> None:
        (self.data_dir / "ports.json").write_text(json.dumps({"s3": self.port, **self._internal_ports}, indent=2))

    def _saved_ports(self) -> dict[str, int]:
        """The internal ports of the last run on this data_dir (see _choose_ports)."""
        try:
            saved = json.loads((self.data_dir / "ports.json").read_text())
        except (OSError, ValueError):
            return {}
        return {key: value for key, value in saved.items() if isinstance(value, int)}

    def _ready(self) -> bool:
        """A signed ListBuckets succeeds (S3 and filer up, our identity loaded) and a volume server is registered."""
        headers = sign_get(
            f"{self.host}:{self.port}",
            "/",
            access_key=self.access_key,
            secret_key=self.secret_key,
            region=self.region,
        )
        if http_status(self.host, self.port, "/", headers=headers) != 200:
            return False
        return self._volume_registered()

    def _volume_registered(self) -> bool:
        answer = http_get(self.host, self._internal_ports["master"], "/dir/status")
        if answer is None or answer[0] != 200:
            return False
        body = json.loads(answer[1])
        nodes = [
            node
            for dc in body.get("Topology", {}).get("DataCenters") or []
            for rack in dc.get("Racks") or []
            for node in rack.get("DataNodes") or []
        ]
        return bool(nodes)

    def _after_stop(self) -> None:
        """Delete the Unix sockets weed leaves in /tmp, named after our HTTP and gRPC ports."""
        tmp = Path(tempfile.gettempdir())
        for port in [self.port, *self._internal_ports.values()]:
            for pattern in (f"seaweedfs-*-{port}.sock", f"seaweedfs-*-grpc-{port + GRPC_OFFSET}.sock"):
                for path in tmp.glob(pattern):
                    with contextlib.suppress(OSError):
                        if stat.S_ISSOCK(path.lstat().st_mode):
                            path.unlink()
