"""What the training benchmarks share: a throw-away stack (`DevStack` in a temporary folder: nats-server,
PostgreSQL, S3, the dataset service, the scheduler, one CPU trainer and the gateway, all real processes), a tiny
synthetic detect dataset published as a version, job submission over HTTP, a recorder of the events on NATS (with
the time each was received here), where the CPU went during a measurement, and percentiles.

Not a benchmark itself (`make bench` runs every bench/*.py, this one included: run as a script it does nothing).
The benchmarks import it as `_platform` (`python bench/x.py` puts bench/ on sys.path; mypy sees `bench._platform`).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import math
import os
import tempfile
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar
from uuid import UUID

import httpx
import nats
import psutil
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg

from modelyard.client import devstack, stackfile, synthetic
from modelyard.client.api import ModelyardClient
from modelyard.client.uploader import upload_file
from modelyard.contracts import envelope
from modelyard.contracts.api.datasets import DatasetCreate, Task
from modelyard.contracts.api.uploads import UploadKind, UploadState
from modelyard.contracts.envelope import Event
from modelyard.embedded.s3 import S3Server
from modelyard.runtime.settings import ObjectStoreSettings
from modelyard.runtime.storage import ObjectStore

JOBS = "/api/v1/training/jobs"
FINAL = frozenset({"completed", "failed", "cancelled"})
E = TypeVar("E", bound=Event)


@dataclass(frozen=True)
class Platform:
    root: Path  # the stack's .modelyard folder (logs/, trainer/, admin-token)
    work: Path  # a scratch folder beside it, for the benchmark's own files
    gateway: str
    nats_url: str
    token: str
    postgres_dsn: str
    s3: S3Server
    pids: dict[str, int]  # service or server name -> pid (DevStack's StackInfo.pids)

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def http(self, timeout_s: float = 60.0) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.gateway, headers=self.auth, timeout=timeout_s)

    def store(self) -> ObjectStore:
        """The services' bucket (DevStack leaves the bucket name at its default)."""
        bucket = ObjectStoreSettings.model_fields["s3_bucket"].default
        return ObjectStore(self.s3.endpoint, self.s3.access_key, self.s3.secret_key, bucket, region=self.s3.region)

    def log_tail(self, service: str, lines: int = 40) -> str:
        path = self.root / "logs" / f"{service}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.is_file() else ""


@contextlib.contextmanager
def running_stack(prefix: str) -> Iterator[Platform]:
    """Start the whole stack in a temporary folder; stop every process and remove the folder on the way out."""
    with tempfile.TemporaryDirectory(prefix=f"modelyard-bench-{prefix}-") as tmp:
        stack = devstack.DevStack(root=Path(tmp) / ".modelyard", gateway_port=devstack.pick_gateway_port(0))
        try:
            info = stack.start()
            assert stack.servers is not None
            work = Path(tmp) / "work"
            work.mkdir()
            yield Platform(
                root=stack.root,
                work=work,
                gateway=info.gateway,
                nats_url=info.nats,
                token=(stack.root / stackfile.TOKEN_FILE).read_text().strip(),
                postgres_dsn=stack.servers.postgres.dsn_for(devstack.DATABASE),
                s3=stack.servers.s3,
                pids=dict(info.pids),
            )
        finally:
            stack.stop()


async def fresh_org(platform: Platform, name: str) -> Platform:
    """The same stack, as the admin of a new organisation on the free plan (POST /api/v1/orgs): a benchmark that
    submits more jobs than one org's month allows (free: 50) moves on to a fresh org."""
    async with ModelyardClient(platform.gateway, platform.token) as api:
        org = await api.create_org(name)
    return dataclasses.replace(platform, token=org.admin_api_key)


@dataclass(frozen=True)
class Version:
    dataset_id: UUID
    version: int
    manifest_key: str
    manifest_sha256: str


async def publish_detect_version(platform: Platform, *, train: int, val: int, size: int, seed: int = 0) -> Version:
    """A synthetic YOLO detect zip uploaded, imported and published (include=all) as a version."""
    archive = synthetic.detect_zip(platform.work / f"detect-{train}-{val}-{size}.zip", train=train, val=val, size=size)
    async with ModelyardClient(platform.gateway, platform.token) as api:
        dataset = await api.create_dataset(DatasetCreate(name=f"bench {train}+{val} @{size}px", task=Task.DETECT))
        upload = await upload_file(api, archive, dataset.id, UploadKind.YOLO_ZIP)
        done = await api.wait_upload(upload.id, timeout_s=120)
        if done.state is not UploadState.COMPLETED:
            raise RuntimeError(f"import failed: {done.error} {done.problems}")
        version = await api.publish_version(dataset.id, include="all", seed=seed)
    return Version(dataset.id, version.version, version.manifest_key, version.manifest_sha256)


def job_body(version: Version, overrides: dict[str, Any], name: str = "bench") -> dict[str, Any]:
    return {
        "name": name,
        "dataset_id": str(version.dataset_id),
        "dataset_version": version.version,
        "mode": "developer",
        "overrides": overrides,
    }


@dataclass(frozen=True)
class Submitted:
    job: dict[str, Any]
    sent_at: float  # time.time() just before the request was sent
    answered_at: float  # time.time() when the 202 was read

    @property
    def id(self) -> str:
        return str(self.job["id"])


async def submit(http: httpx.AsyncClient, body: dict[str, Any]) -> Submitted:
    sent = time.time()
    response = await http.post(JOBS, json=body)
    answered = time.time()
    if response.status_code != 202:
        raise RuntimeError(f"submit answered {response.status_code}: {response.text}")
    return Submitted(response.json(), sent, answered)


async def get_job(http: httpx.AsyncClient, job_id: str) -> dict[str, Any]:
    response = await http.get(f"{JOBS}/{job_id}")
    response.raise_for_status()
    job: dict[str, Any] = response.json()["job"]
    return job


async def wait_job(
    http: httpx.AsyncClient, job_id: str, statuses: frozenset[str] = FINAL, timeout_s: float = 300, poll_s: float = 0.1
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        job = await get_job(http, job_id)
        if job["status"] in statuses:
            return job
        if time.monotonic() > deadline:
            raise TimeoutError(f"job {job_id} still {job['status']} after {timeout_s}s")
        await asyncio.sleep(poll_s)


async def resolved_config(http: httpx.AsyncClient, overrides: dict[str, Any]) -> dict[str, Any]:
    """The training arguments the scheduler resolves for these developer-mode overrides (what the child gets)."""
    body = {"framework": "ultralytics", "task": "detect", "mode": "developer", "overrides": overrides}
    response = await http.post("/api/v1/training/config/resolve", json=body)
    response.raise_for_status()
    values: dict[str, Any] = response.json()["values"]
    return values


def timestamp(iso: str) -> float:
    """An ISO 8601 time from the API or an event as seconds since the epoch (comparable with time.time())."""
    return datetime.fromisoformat(iso).timestamp()


def percentile(values: list[float], pct: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    ordered = sorted(values)
    if not ordered:
        return math.nan
    rank = (len(ordered) - 1) * pct / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass(frozen=True)
class Seen:
    received_at: float  # time.time() when the message reached this process's callback
    event: Event


class EventRecorder:
    """Core NATS subscriptions (no consumer: nothing is taken from the services) that keep every decoded event
    with its receipt time, indexed by job, and let the benchmark wait for one."""

    def __init__(self) -> None:
        self.by_job: dict[str, list[Seen]] = defaultdict(list)
        self._arrived = asyncio.Condition()

    async def subscribe(self, nc: NatsClient, *subject_list: str) -> None:
        for subject in subject_list:
            await nc.subscribe(subject, cb=self._on_message)

    async def _on_message(self, msg: Msg) -> None:
        received = time.time()  # first: decoding must not count
        try:
            event = envelope.decode(msg.data)
        except ValueError:
            return
        self.by_job[str(getattr(event, "job_id", ""))].append(Seen(received, event))
        async with self._arrived:
            self._arrived.notify_all()

    def find(self, job_id: str, match: Callable[[Event], bool]) -> Seen | None:
        return next((seen for seen in self.by_job.get(job_id, []) if match(seen.event)), None)

    def all(self, job_id: str, kind: type[E]) -> list[tuple[float, E]]:
        return [(s.received_at, s.event) for s in self.by_job.get(job_id, []) if isinstance(s.event, kind)]

    async def wait_for(self, job_id: str, match: Callable[[Event], bool], timeout_s: float = 60) -> Seen:
        async with self._arrived:
            await asyncio.wait_for(self._arrived.wait_for(lambda: self.find(job_id, match) is not None), timeout_s)
        found = self.find(job_id, match)
        assert found is not None
        return found


def machine_busy_s() -> float:
    """CPU seconds the whole machine has been busy (all cores, all processes), from /proc/stat; NaN elsewhere."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    except OSError:
        return math.nan
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def tree_cpu_s(pid: int) -> float:
    """CPU seconds of a process and everything under it: each live process's own time plus that of the children it
    has already reaped (a training child that exited is counted in the trainer's children_* times)."""
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0.0
    total = 0.0
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            t = proc.cpu_times()
            total += t.user + t.system + t.children_user + t.children_system
    return float(total)


def own_cpu_s() -> float:
    """This process (the benchmark), threads included, its reaped children excluded."""
    t = os.times()
    return t.user + t.system


class CpuMeter:
    """Where the CPU went during a measurement: the training (the trainer's children, or the bare process), each
    service and server of the stack, this benchmark, and the rest of the machine (other people's work)."""

    SERVICES = ("trainer", "scheduler", "gateway", "dataset", "nats", "postgres", "s3")

    def __init__(self, platform: Platform) -> None:
        self.pids = platform.pids

    def snapshot(self) -> dict[str, float]:
        shot = {name: tree_cpu_s(pid) for name, pid in self.pids.items()}
        trainer = self.pids.get("trainer")
        if trainer is not None:
            with contextlib.suppress(psutil.Error):
                t = psutil.Process(trainer).cpu_times()
                own = float(t.user + t.system)
                shot["training child"], shot["trainer"] = shot["trainer"] - own, own
        children = os.times()
        shot["bare process"] = children.children_user + children.children_system
        shot["bench"] = own_cpu_s()
        shot["machine"] = machine_busy_s()
        return shot

    @classmethod
    def describe(cls, spent: dict[str, float], training: str = "training child") -> str:
        """One line: the training, the stack (by service), this benchmark, and the rest of the machine."""
        stack = sum(spent.get(name, 0.0) for name in cls.SERVICES)
        services = ", ".join(f"{name} {spent.get(name, 0.0):.2f}" for name in cls.SERVICES)
        bench = spent.get("bench", 0.0)
        return (
            f"training {spent.get(training, 0.0):.1f}; stack {stack:.2f} ({services}); bench {bench:.2f};"
            f" not ours {spent.get('other', 0.0):.1f} (machine busy {spent.get('machine', 0.0):.1f})"
        )

    @staticmethod
    def used(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
        """CPU seconds per name between two snapshots, and `other`: the machine's busy time not accounted for."""
        spent = {name: after[name] - before.get(name, 0.0) for name in after}
        spent["other"] = spent["machine"] - sum(v for k, v in spent.items() if k != "machine")
        return spent


@contextlib.asynccontextmanager
async def nats_client(platform: Platform) -> AsyncIterator[NatsClient]:
    nc = await nats.connect(platform.nats_url, name="modelyard-bench")
    try:
        yield nc
    finally:
        await nc.close()
