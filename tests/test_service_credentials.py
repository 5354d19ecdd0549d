"""Per-service NATS credentials against a real nats-server in operator mode (NATS decentralized JWT auth): each
service's .creds allow what that service does on NATS (runtime.natsauth.service_permissions) and the server refuses
the rest; and the services themselves start, answer and work through the gateway with nothing but their own."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import os
import subprocess
import sys
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import aiohttp
import nats
import pytest
from nats.aio.client import DEFAULT_INBOX_PREFIX
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.js.api import StreamConfig
from nats.js.errors import NotFoundError
from pydantic import SecretStr
from typer.testing import CliRunner

from modelyard.client import cli
from modelyard.client.api import ApiError
from modelyard.contracts import permissions, streams, subjects
from modelyard.contracts.api.training import JobStatus, Pool, Priority
from modelyard.contracts.envelope import Event
from modelyard.contracts.events import (
    AuditRecorded,
    CheckpointSaved,
    DatasetArchived,
    DatasetCreated,
    DatasetUpdated,
    DatasetVersionPublished,
    DefaultModelSet,
    DeployRequested,
    EpochReported,
    JobCancelRequested,
    JobDispatched,
    JobQueued,
    JobStatusChanged,
    JobSucceeded,
    LogsReported,
    ModelRegistered,
    ModelReleased,
    ModelStatusChanged,
    SampleDeleted,
    SampleReviewed,
    SamplesAdded,
    SampleUpdated,
    TrainingCancelled,
    TrainingCompleted,
    TrainingFailed,
    TrainingStarted,
    UploadCompleted,
    UploadExpired,
    UploadFailed,
    UploadFinalized,
    UserCreated,
)
from modelyard.dataset.importer import IMPORTER
from modelyard.dataset.settings import Settings as DatasetSettings
from modelyard.distribution.progress import HEARTBEATS, STATUS
from modelyard.distribution.settings import Settings as DistributionSettings
from modelyard.embedded.nats import NatsServer
from modelyard.embedded.ports import free_port
from modelyard.embedded.s3 import S3Server
from modelyard.gateway.audit import PROJECTION
from modelyard.gateway.bootstrap import bootstrap
from modelyard.gateway.settings import Settings as GatewaySettings
from modelyard.registry.registration import COMPLETIONS
from modelyard.registry.settings import Settings as RegistrySettings
from modelyard.runtime import jetstream
from modelyard.runtime.natsauth import (
    SERVICE_PERMISSIONS,
    SERVICE_RESPONSE_TTL,
    SERVICES,
    NatsTrust,
    create_trust,
    parse_creds,
    service_creds,
    service_inbox_prefix,
    user_creds,
    verify_jwt,
)
from modelyard.scheduler.reports import LOGS, METRICS, REPORTS
from modelyard.scheduler.settings import Settings as SchedulerSettings

from .conftest import Platform
from .training_support import published_version, submit, wait_job

VIOLATION_WAIT_S = 5.0
REFUSED_API_TIMEOUT_S = 1.0  # a refused request gets no reply: how long to wait for the one that never comes


@pytest.fixture(scope="module")
def trust() -> NatsTrust:
    return create_trust()


@pytest.fixture
def server(tmp_path: Path, trust: NatsTrust) -> Iterator[NatsServer]:
    with NatsServer(
        tmp_path / "nats",
        operator_jwt=trust.operator_jwt,
        system_account=trust.system_account_pub,
        resolver_preload=trust.resolver_preload,
    ) as server:
        yield server


def _violations(server: NatsServer) -> list[str]:
    """What the server logged as refused: permission violations name the user and the subject."""
    log = server.data_dir / "nats-server.log"
    return [line for line in log.read_text().splitlines() if "violation" in line.lower()]


# -- the table -----------------------------------------------------------------------------------------------


def _subject(template: str, **known: str) -> str:
    """A concrete subject from an event's template: its fields filled with a plain token (or the given values)."""
    return template.format_map(defaultdict(lambda: "x", known))


def _may_publish(service: str, subject: str) -> bool:
    return SERVICE_PERMISSIONS[service].may_publish(subject)


def _event_subjects(*events: type[Event]) -> list[str]:
    return [_subject(e.subject) for e in events]


EMITS: dict[str, list[str]] = {
    "gateway": [*_event_subjects(UserCreated), _subject(AuditRecorded.subject, service="gateway")],
    "dataset": [
        *_event_subjects(
            DatasetCreated,
            DatasetUpdated,
            DatasetArchived,
            SamplesAdded,
            SampleUpdated,
            SampleDeleted,
            SampleReviewed,
            DatasetVersionPublished,
            UploadFinalized,
            UploadCompleted,
            UploadFailed,
            UploadExpired,
        ),
        _subject(AuditRecorded.subject, service="dataset", action="upload.completed"),
    ],
    "scheduler": [
        *_event_subjects(JobQueued, JobStatusChanged, JobCancelRequested, JobSucceeded),
        *(_subject(JobDispatched.subject, pool=p.value, priority=q.value) for p in Pool for q in Priority),
        _subject(AuditRecorded.subject, service="scheduler", action="job.queued"),
    ],
    "registry": [
        *_event_subjects(ModelRegistered, ModelStatusChanged, ModelReleased, DefaultModelSet),
        _subject(AuditRecorded.subject, service="registry", action="model.released"),
    ],
    "distribution": [
        *_event_subjects(DeployRequested),
        _subject(AuditRecorded.subject, service="distribution", action="device.enrolled"),
    ],
    "trainer": _event_subjects(
        TrainingStarted,
        EpochReported,
        LogsReported,
        CheckpointSaved,
        TrainingCompleted,
        TrainingFailed,
        TrainingCancelled,
    ),
}


def test_each_service_may_publish_its_own_events_and_no_one_elses() -> None:
    for service, emitted in EMITS.items():
        for subject in emitted:
            assert _may_publish(service, subject), (service, subject)
        others = {s for other, subs in EMITS.items() if other != service for s in subs} - set(emitted)
        for subject in others:
            assert not _may_publish(service, subject), (service, subject)


def test_the_consumers_in_the_table_are_the_services_own() -> None:
    specs = {
        "gateway": [PROJECTION],
        "dataset": [IMPORTER],
        "scheduler": [REPORTS, METRICS, LOGS],
        "registry": [COMPLETIONS],
        "distribution": [STATUS, HEARTBEATS],
        "trainer": [streams.dispatch_consumer(p.value, q.value, 60.0) for p in Pool for q in Priority],
    }
    for service, consumers in specs.items():
        pub = SERVICE_PERMISSIONS[service].pub_allow
        for spec in consumers:
            assert f"$JS.API.CONSUMER.CREATE.{spec.stream}.{spec.durable}.{spec.filter_subject}" in pub, service
            assert f"$JS.API.CONSUMER.MSG.NEXT.{spec.stream}.{spec.durable}" in pub, (service, spec.durable)
            assert f"$JS.ACK.{spec.stream}.{spec.durable}.>" in pub
            info = f"$JS.API.CONSUMER.INFO.{spec.stream}.{spec.durable}"
            assert (info in pub) is (service == "trainer")  # only the trainer asks its consumers for their backlog
        created = [p.split(".", 4)[-1] for p in pub if p.startswith("$JS.API.CONSUMER.CREATE.")]
        durables = {rest.split(".", 2)[1] for rest in created}
        assert durables == {spec.durable for spec in consumers}, service


def test_requests_go_where_the_services_call_and_answer_only_their_own() -> None:
    gateway, trainer = SERVICE_PERMISSIONS["gateway"], SERVICE_PERMISSIONS["trainer"]
    for subject in permissions.SUBJECTS:  # what users may ask (and a device's enrollment), never a job's claim
        assert gateway.may_publish(subject) is (subject != subjects.SVC_JOB_CLAIM), subject
    assert [s for s in trainer.pub_allow if s.startswith("svc.")] == [subjects.SVC_JOB_CLAIM]
    assert [s for s in SERVICE_PERMISSIONS["scheduler"].pub_allow if s.startswith("svc.")] == [
        subjects.SVC_DATASET_GET,
        subjects.SVC_VERSION_GET,
    ]
    assert not [s for s in SERVICE_PERMISSIONS["dataset"].pub_allow if s.startswith("svc.")]
    for service, allowed in SERVICE_PERMISSIONS.items():
        assert allowed.sub_allow[:2] == (f"svc.{service}.>", f"_INBOX_{service}.>")
        assert allowed.inbox_prefix == service_inbox_prefix(service)
        wide = {">", "*", "$JS.API.>", "$JS.>", "_INBOX.>", "svc.>", "*.>"}
        assert not wide & {*allowed.pub_allow, *allowed.sub_allow}, service
        assert not any(s.startswith("svc.") for s in allowed.sub_allow if not s.startswith(f"svc.{service}."))


def test_service_creds_carry_the_permissions_and_the_right_to_answer(trust: NatsTrust) -> None:
    jwt, _ = parse_creds(service_creds(trust.account_seed, "dataset", expires_in=timedelta(days=30)))
    claims = verify_jwt(jwt, trust.account_pub)
    assert claims["name"] == "service:dataset"
    assert claims["nats"]["pub"] == {"allow": list(SERVICE_PERMISSIONS["dataset"].pub_allow)}  # no deny: none needed
    assert claims["nats"]["sub"] == {"allow": list(SERVICE_PERMISSIONS["dataset"].sub_allow)}
    assert claims["nats"]["resp"] == {"max": 1, "ttl": int(SERVICE_RESPONSE_TTL.total_seconds()) * 10**9}
    assert "exp" in claims
    gateway, _ = parse_creds(service_creds(trust.account_seed, "gateway"))
    assert verify_jwt(gateway, trust.account_pub)["nats"]["pub"]["deny"] == [subjects.SVC_JOB_CLAIM]
    with pytest.raises(ValueError, match="unknown service"):
        service_creds(trust.account_seed, "edge")


# -- against the server --------------------------------------------------------------------------------------


@dataclass
class Conn:
    """A connection and the errors nats-py handed its error callback (permission violations arrive there)."""

    nc: NatsClient
    errors: list[Exception] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def on_error(self, exc: Exception) -> None:
        self.errors.append(exc)
        self.arrived.set()

    async def refused(self, action: str) -> None:
        """Wait for the server's "Permissions Violation for <action>" (nats-py lowercases it) and forget it."""
        wanted = f"permissions violation for {action}".lower()
        try:
            async with asyncio.timeout(VIOLATION_WAIT_S):
                while not any(wanted in str(e) for e in self.errors):
                    self.arrived.clear()
                    await self.arrived.wait()
        except TimeoutError:
            raise AssertionError(f"no {wanted!r} within {VIOLATION_WAIT_S} s; errors: {self.errors}") from None
        self.errors.clear()

    async def cannot_subscribe(self, subject: str) -> None:
        await self.nc.subscribe(subject)
        await self.refused(f'subscription to "{subject}"')

    async def cannot_publish(self, subject: str) -> None:
        await self.nc.publish(subject, b"forged")
        await self.refused(f'publish to "{subject}"')

    async def clean(self) -> None:
        await self.nc.flush()
        await asyncio.sleep(0.2)  # a violation of the last command would have arrived by now
        assert self.errors == []


async def _connect(server: NatsServer, creds_path: Path, inbox_prefix: str | None = None) -> Conn:
    conn = Conn(NatsClient())
    await conn.nc.connect(
        server.url,
        user_credentials=str(creds_path),
        inbox_prefix=inbox_prefix or DEFAULT_INBOX_PREFIX,
        error_cb=conn.on_error,
        allow_reconnect=False,
    )
    return conn


def _write(directory: Path, name: str, text: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.creds"
    path.write_text(text)
    return path


@dataclass
class Services:
    admin: Conn
    conns: dict[str, Conn]

    def __getitem__(self, service: str) -> Conn:
        return self.conns[service]


@pytest.fixture
async def services(tmp_path: Path, server: NatsServer, trust: NatsTrust) -> AsyncIterator[Services]:
    creds = tmp_path / "creds"
    admin_creds = user_creds(trust.account_seed, "admin", pub_allow=None, sub_allow=None, expires_in=None)
    admin = await _connect(server, _write(creds, "admin", admin_creds))
    await jetstream.ensure_streams(admin.nc.jetstream(), streams.ALL_STREAMS)
    conns = {}
    for service in ("gateway", "dataset", "scheduler", "trainer"):
        path = _write(creds, service, service_creds(trust.account_seed, service))
        conns[service] = await _connect(server, path, service_inbox_prefix(service))
    try:
        yield Services(admin, conns)
    finally:
        for conn in (*conns.values(), admin):
            await conn.nc.close()


async def _answer(conn: Conn, subject: str, service: str, reply: bytes = b"ok") -> None:
    async def respond(msg: Msg) -> None:
        await msg.respond(reply)

    await conn.nc.subscribe(subject, queue=service, cb=respond)


async def _ask(conn: Conn, subject: str) -> bytes:
    """A request, asked again while no one listens yet: nats-py's flush() can overtake a SUB still queued for its
    flusher task (see the device tests), so a responder's subscription may reach the server a moment later."""
    for _ in range(50):
        with contextlib.suppress(nats.errors.NoRespondersError):
            return bytes((await conn.nc.request(subject, b"{}", timeout=5)).data)
        await asyncio.sleep(0.1)
    raise AssertionError(f"no responder on {subject}")


async def test_dataset_answers_its_requests_publishes_its_events_and_takes_its_imports(services: Services) -> None:
    dataset, gateway = services["dataset"], services["gateway"]
    await _answer(dataset, subjects.SVC_DATASET_CREATE, "dataset", b"created")
    await _answer(dataset, subjects.service_health("dataset"), "dataset")
    assert await _ask(gateway, subjects.SVC_DATASET_CREATE) == b"created"
    assert await _ask(services.admin, subjects.service_health("dataset")) == b"ok"

    js = dataset.nc.jetstream()
    assert await jetstream.ensure_streams(js, streams.ALL_STREAMS) == []  # declared already: reads their info
    assert (await js.publish(subjects.DATASET_CREATED, b"{}", timeout=5)).stream == streams.DATASETS.name
    assert (await js.publish("audit.dataset.dataset.created", b"{}", timeout=5)).stream == streams.AUDIT.name

    await jetstream.ensure_consumer(js, IMPORTER)
    await services.admin.nc.jetstream().publish(subjects.DATASET_UPLOAD_FINALIZED, b"finalized")
    sub = await js.pull_subscribe_bind(IMPORTER.durable, IMPORTER.stream)
    [msg] = await sub.fetch(1, timeout=5)
    assert msg.data == b"finalized"
    await msg.in_progress()
    await msg.ack_sync()
    info = await services.admin.nc.jetstream().consumer_info(IMPORTER.stream, IMPORTER.durable)
    assert info.num_ack_pending == 0 and info.num_pending == 0
    dead = await js.publish(subjects.dead_letter(subjects.DATASET_UPLOAD_FINALIZED), b"x", stream=streams.DLQ.name)
    assert dead.stream == streams.DLQ.name
    await dataset.clean()
    await gateway.clean()


async def test_dataset_is_refused_every_other_services_subjects(services: Services) -> None:
    dataset = services["dataset"]
    for subject in (
        "svc.registry.>",
        subjects.SVC_JOB_CLAIM,
        subjects.EDGE_DEPLOY_ALL,
        subjects.JOBS_ALL,
        "_INBOX.>",
        f"{service_inbox_prefix('gateway')}.>",
    ):
        await dataset.cannot_subscribe(subject)
    for subject in (
        subjects.job_status(uuid.uuid4()),
        subjects.edge_deploy(uuid.uuid4(), uuid.uuid4()),
        subjects.MODEL_REGISTERED,
        "audit.registry.model.released",  # another service's audit record
        subjects.SVC_MODEL_RELEASE,  # a request no service of its kind makes
        subjects.GATEWAY_KEY_REVOKED,
        f"{service_inbox_prefix('gateway')}.forged",  # an answer to a request it never received
    ):
        await dataset.cannot_publish(subject)

    js = dataset.nc.jetstream(timeout=REFUSED_API_TIMEOUT_S)
    with pytest.raises(nats.errors.TimeoutError):  # another service's durable
        await jetstream.ensure_consumer(js, REPORTS)
    await dataset.refused(f'publish to "$JS.API.CONSUMER.CREATE.JOBS.{REPORTS.durable}.{REPORTS.filter_subject}"')
    wider = dataclasses.replace(IMPORTER, filter_subject="dataset.>")  # its own durable, made to see every event
    with pytest.raises(nats.errors.TimeoutError):
        await jetstream.ensure_consumer(js, wider)
    await dataset.refused(f'publish to "$JS.API.CONSUMER.CREATE.DATASETS.{IMPORTER.durable}.dataset.>"')
    with pytest.raises(nats.errors.TimeoutError):
        await js.delete_stream(streams.DATASETS.name)
    await dataset.refused('publish to "$JS.API.STREAM.DELETE.DATASETS"')
    with pytest.raises(nats.errors.TimeoutError):  # a stream of its own making, say over another's inbox
        await js.add_stream(StreamConfig(name="SNOOP", subjects=["_INBOX_gateway.>"]))
    await dataset.refused('publish to "$JS.API.STREAM.CREATE.SNOOP"')
    with pytest.raises(nats.errors.TimeoutError):
        await js.get_msg(streams.DISPATCH.name, 1)
    await dataset.refused('publish to "$JS.API.STREAM.MSG.GET.DISPATCH"')
    assert (await services.admin.nc.jetstream().stream_info(streams.DATASETS.name)).config.name == "DATASETS"


async def test_scheduler_pulls_its_reports_dispatches_and_calls_the_dataset_service(services: Services) -> None:
    scheduler, dataset = services["scheduler"], services["dataset"]
    js, job = scheduler.nc.jetstream(), uuid.uuid4()
    await _answer(dataset, subjects.SVC_DATASET_GET, "dataset", b"dataset")
    assert await _ask(scheduler, subjects.SVC_DATASET_GET) == b"dataset"

    await jetstream.ensure_consumer(js, REPORTS)
    await services.admin.nc.jetstream().publish(subjects.TRAINING_STARTED, b"started")
    sub = await js.pull_subscribe_bind(REPORTS.durable, REPORTS.stream)
    [msg] = await sub.fetch(1, timeout=5)
    assert msg.data == b"started"
    await msg.ack_sync()

    for subject in (subjects.JOB_QUEUED, subjects.job_status(job), subjects.job_cancel(job), subjects.JOB_SUCCEEDED):
        assert (await js.publish(subject, b"{}", timeout=5)).stream == streams.JOBS.name
    sent = await js.publish(subjects.dispatch("gpu", "high"), b"{}", timeout=5)
    assert sent.stream == streams.DISPATCH.name
    assert (await js.get_msg(streams.DISPATCH.name, sent.seq)).data == b"{}"  # a lost dispatch, looked at
    await js.delete_msg(streams.DISPATCH.name, sent.seq)  # and dropped
    await scheduler.nc.subscribe(f"$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.{streams.DISPATCH.name}.*")
    await scheduler.clean()

    await scheduler.cannot_publish(subjects.TRAINING_COMPLETED)  # a trainer's report
    await scheduler.cannot_publish(subjects.SVC_MODEL_GET)
    await scheduler.cannot_publish(subjects.MODEL_REGISTERED)
    await scheduler.cannot_subscribe("svc.dataset.>")
    await scheduler.cannot_subscribe(subjects.EDGE_STATUS_ALL)
    with pytest.raises(nats.errors.TimeoutError):
        await scheduler.nc.jetstream(timeout=REFUSED_API_TIMEOUT_S).consumer_info(
            streams.JOBS.name, COMPLETIONS.durable
        )
    await scheduler.refused(f'publish to "$JS.API.CONSUMER.INFO.JOBS.{COMPLETIONS.durable}"')


async def test_trainer_takes_its_jobs_claims_them_and_reports_nothing_else(services: Services) -> None:
    trainer, scheduler = services["trainer"], services["scheduler"]
    js, job = trainer.nc.jetstream(), uuid.uuid4()
    spec = streams.dispatch_consumer("cpu", "normal", 30.0)
    assert await jetstream.ensure_streams(js, streams.ALL_STREAMS) == []
    await jetstream.ensure_consumer(js, spec)
    sub = await js.pull_subscribe_bind(spec.durable, spec.stream)
    doorbell = await trainer.nc.subscribe("dispatch.cpu.>")
    cancels = await trainer.nc.subscribe(subjects.job_cancel(job))
    await js.consumer_info(spec.stream, spec.durable)  # a request queued after the SUBs: answered, they are in place
    await scheduler.nc.jetstream().publish(subjects.dispatch("cpu", "normal"), b"job")
    assert (await doorbell.next_msg(timeout=5)).data == b"job"
    assert (await js.consumer_info(spec.stream, spec.durable)).num_pending == 1
    [msg] = await sub.fetch(1, timeout=5)
    await _answer(scheduler, subjects.SVC_JOB_CLAIM, "scheduler", b"granted")
    assert await _ask(trainer, subjects.SVC_JOB_CLAIM) == b"granted"
    for subject in (subjects.TRAINING_STARTED, subjects.TRAINING_CHECKPOINT, subjects.TRAINING_COMPLETED):
        assert (await js.publish(subject, b"{}", timeout=5)).stream == streams.JOBS.name
    for subject in (subjects.telemetry_metrics(job), subjects.telemetry_logs(job)):
        assert (await js.publish(subject, b"{}", timeout=5)).stream == streams.TELEMETRY.name
    await scheduler.nc.jetstream().publish(subjects.job_cancel(job), b"cancel")
    assert (await cancels.next_msg(timeout=5)).data == b"cancel"
    await msg.in_progress()
    await msg.ack_sync()
    await trainer.clean()

    for subject in (
        subjects.SVC_MODEL_RELEASE,
        subjects.SVC_JOB_CREATE,
        subjects.MODEL_REGISTERED,
        subjects.JOB_SUCCEEDED,  # the scheduler accepts a completion, not the trainer
        subjects.job_status(job),
        subjects.dispatch("cpu", "high"),
        subjects.DATASET_CREATED,
    ):
        await trainer.cannot_publish(subject)
    for subject in ("svc.scheduler.>", subjects.TRAINING_REPORTS, subjects.DATASETS_ALL, "_INBOX.>"):
        await trainer.cannot_subscribe(subject)


async def test_gateway_forwards_requests_but_claims_no_job_and_writes_no_fact(services: Services) -> None:
    gateway = services["gateway"]
    await gateway.nc.subscribe(subjects.GATEWAY_KEY_REVOKED)
    await gateway.nc.subscribe(subjects.JOBS_ALL)
    await gateway.nc.subscribe(subjects.telemetry_metrics(uuid.uuid4()))
    await gateway.nc.publish(subjects.GATEWAY_KEY_REVOKED, b"key")
    await gateway.clean()
    for subject in (
        subjects.SVC_JOB_CLAIM,
        subjects.DATASET_CREATED,
        subjects.JOB_SUCCEEDED,
        subjects.TRAINING_STARTED,
    ):
        await gateway.cannot_publish(subject)
    for subject in ("svc.dataset.>", subjects.EDGE_STATUS_ALL, subjects.telemetry_logs("*")):
        await gateway.cannot_subscribe(subject)


async def test_without_stream_declaration_a_service_reads_the_streams_but_cannot_change_them(
    tmp_path: Path, services: Services, server: NatsServer, trust: NatsTrust
) -> None:
    creds = service_creds(trust.account_seed, "registry", declare_streams=False)
    registry = await _connect(
        server, _write(tmp_path / "creds", "registry-ro", creds), service_inbox_prefix("registry")
    )
    try:
        js = registry.nc.jetstream(timeout=REFUSED_API_TIMEOUT_S)
        assert await jetstream.ensure_streams(js, streams.ALL_STREAMS) == []  # they match: info is all it takes
        await jetstream.ensure_consumer(js, COMPLETIONS)
        changed = StreamConfig(name=streams.MODELS.name, subjects=[subjects.MODELS_ALL, "_INBOX_gateway.>"])
        with pytest.raises(nats.errors.TimeoutError):
            await js.update_stream(changed)
        await registry.refused('publish to "$JS.API.STREAM.UPDATE.MODELS"')
        await services.admin.nc.jetstream().delete_stream(streams.AUDIT.name)
        with pytest.raises(nats.errors.TimeoutError):  # a missing stream is for an admin to declare
            await jetstream.ensure_streams(js, [streams.AUDIT])
        await registry.refused('publish to "$JS.API.STREAM.CREATE.AUDIT"')
        with pytest.raises(NotFoundError):
            await services.admin.nc.jetstream().stream_info(streams.AUDIT.name)
    finally:
        await registry.nc.close()


# -- the services themselves ---------------------------------------------------------------------------------


@pytest.fixture
async def secured(
    database_url: str, s3_server: S3Server, server: NatsServer, trust: NatsTrust, tmp_path: Path
) -> AsyncIterator[Platform]:
    """The platform of tests/conftest.py, each service on the operator-mode server with its own .creds only."""
    creds = {s: _write(tmp_path / "creds", s, service_creds(trust.account_seed, s)) for s in SERVICES}
    s3 = {
        "s3_endpoint": s3_server.endpoint,
        "s3_access_key": s3_server.access_key,
        "s3_secret_key": SecretStr(s3_server.secret_key),
        "s3_bucket": f"t-{uuid.uuid4().hex[:12]}",
        "s3_region": s3_server.region,
    }

    def common(service: str) -> dict[str, object]:
        return {"nats_url": server.url, "nats_creds_path": creds[service], "database_url": database_url}

    gateway = GatewaySettings(**common("gateway"), port=free_port(), rate_limit_scale=100)  # type: ignore[arg-type]
    dataset = DatasetSettings(**common("dataset"), **s3)  # type: ignore[arg-type]
    scheduler = SchedulerSettings(**common("scheduler"), **s3, retry_backoff_s=(0.5, 1.0), retry_poll_s=0.2)  # type: ignore[arg-type]
    registry = RegistrySettings(
        **common("registry"),  # type: ignore[arg-type]
        **s3,  # type: ignore[arg-type]
        signing_key_path=tmp_path / "keys" / "release.pem",
        create_signing_key=True,
        work_dir=tmp_path / "registry",
        measure_inference_runs=3,
    )
    distribution = DistributionSettings(
        **common("distribution"),  # type: ignore[arg-type]
        **s3,  # type: ignore[arg-type]
        nats_account_seed=SecretStr(trust.account_seed),
        retry_backoff_s=(0.5, 1.0),
        retry_poll_s=0.2,
    )
    admin_key, _ = await bootstrap(gateway, "default", tmp_path / "admin-token")
    async with aiohttp.ClientSession() as http:
        url = f"http://{gateway.host}:{gateway.port}"
        platform = Platform(
            url,
            admin_key,
            server.url,
            database_url,
            http,
            gateway,
            dataset,
            scheduler,
            registry,
            distribution,
            tmp_path,
        )
        await platform.start()
        try:
            yield platform
        finally:
            await platform.stop()


async def _trainer(platform: Platform, admin: NatsClient, creds: Path) -> subprocess.Popen[bytes]:
    """A real trainer process (cpu pool) on its own credentials, once it answers its health subject."""
    s = platform.dataset_settings
    env = os.environ | {
        "MODELYARD_TRAINER_NATS_URL": platform.nats_url,
        "MODELYARD_TRAINER_NATS_CREDS_PATH": str(creds),
        "MODELYARD_TRAINER_S3_ENDPOINT": s.s3_endpoint,
        "MODELYARD_TRAINER_S3_ACCESS_KEY": s.s3_access_key,
        "MODELYARD_TRAINER_S3_SECRET_KEY": s.s3_secret_key.get_secret_value(),
        "MODELYARD_TRAINER_S3_BUCKET": s.s3_bucket,
        "MODELYARD_TRAINER_WORK_DIR": str(platform.work_dir / "trainer"),
        "MODELYARD_TRAINER_LOG_FORMAT": "console",
    }
    log_path = platform.work_dir / "trainer.log"
    with log_path.open("ab") as log:
        argv = [sys.executable, "-m", "modelyard.trainer", "--pool", "cpu"]
        proc = subprocess.Popen(argv, env=env, stdout=log, stderr=log)  # noqa: ASYNC220 - returns at once
    platform.trainers.append(proc)  # stopped with the platform
    for _ in range(300):
        if proc.poll() is not None:
            raise AssertionError(f"trainer exited: {log_path.read_text()}")
        with contextlib.suppress(nats.errors.TimeoutError, nats.errors.NoRespondersError):
            answer = await admin.request(subjects.service_health("trainer"), b"", timeout=0.2)
            assert json.loads(answer.data) == {"service": "trainer", "status": "ok"}
            return proc
        await asyncio.sleep(0.1)
    raise AssertionError(f"trainer not ready: {log_path.read_text()}")


async def test_the_services_run_on_their_own_credentials(
    secured: Platform, server: NatsServer, trust: NatsTrust, tmp_path: Path
) -> None:
    """Every service and a trainer, each on its own .creds, through the gateway: an upload imported and versioned,
    a job trained to completion and its model registered, a job cancelled, a device token, a deployment refused;
    the audit records of each reach the gateway's projection; and the server refused nothing on the way."""
    admin_creds = user_creds(trust.account_seed, "admin", pub_allow=None, sub_allow=None, expires_in=None)
    admin = await _connect(server, _write(tmp_path / "creds", "admin", admin_creds))
    try:
        for service in ("gateway", "dataset", "scheduler", "registry", "distribution"):
            answer = json.loads((await admin.nc.request(subjects.service_health(service), b"", timeout=5)).data)
            assert answer == {"service": service, "status": "ok"}
        # gateway → dataset (upload; import by the dataset-importer consumer; version)
        dataset_id, version = await published_version(secured, tmp_path)
        # gateway → scheduler → dataset; dispatch → trainer → claim, reports, telemetry → scheduler → JobSucceeded
        # → registry (registry-completions) → ModelRegistered
        await _trainer(secured, admin.nc, tmp_path / "creds" / "trainer.creds")
        job = await submit(secured, dataset_id, version)
        done = await wait_job(secured, job["id"], {"completed", "failed", "cancelled"})
        assert done["status"] == "completed", done
        assert done["current_epoch"] == 2
    finally:
        await admin.nc.close()
    async with secured.client() as api:
        models = (await api.list_models()).models  # gateway → registry
        for _ in range(100):
            if models:
                break
            await asyncio.sleep(0.1)
            models = (await api.list_models()).models
        assert [m.job_id for m in models] == [uuid.UUID(job["id"])]
        assert (await api.job_metrics(uuid.UUID(job["id"]))).metrics  # the scheduler kept the trainer's epochs
        second = await submit(secured, dataset_id, version, epochs=50)
        assert (await api.cancel_job(uuid.UUID(second["id"]))).status in (JobStatus.CANCELLED, JobStatus.RUNNING)
        assert (await api.create_enrollment_token(labels={"site": "a"})).token  # gateway → distribution
        with pytest.raises(ApiError) as unknown:  # gateway → distribution → registry
            await api.create_deployment(uuid.uuid4(), all_devices=True)
        assert unknown.value.problem.status == 404
        # every service's audit records reach the gateway's projection (outbox relays → AUDIT → gateway-audit)
        wanted = {"gateway", "dataset", "scheduler", "registry", "distribution"}
        services: set[str] = set()
        for _ in range(100):
            services = {e.service for e in (await api.list_audit(limit=200)).events}
            if wanted <= services:
                break
            await asyncio.sleep(0.1)
        assert wanted <= services
    assert _violations(server) == []  # nothing any service did was refused


async def test_the_operator_cli_reads_the_streams_with_its_own_credentials(
    tmp_path: Path, server: NatsServer, trust: NatsTrust
) -> None:
    """`modelyard streams` against an operator-mode server: with MODELYARD_NATS_CREDS it reads every stream; without
    credentials it is refused with a readable error (no traceback)."""
    operator = user_creds(trust.account_seed, "operator", pub_allow=None, sub_allow=None, expires_in=None)
    path = _write(tmp_path / "creds", "operator", operator)
    admin = await _connect(server, path)
    try:
        await jetstream.ensure_streams(admin.nc.jetstream(), streams.ALL_STREAMS)
    finally:
        await admin.nc.close()
    env = {"MODELYARD_NATS_URL": server.url, "MODELYARD_NATS_CREDS": str(path), "COLUMNS": "200"}
    shown = await asyncio.to_thread(CliRunner().invoke, cli.app, ["streams", "--json"], env=env)
    assert shown.exit_code == 0, shown.output
    assert {s["name"] for s in json.loads(shown.stdout)["streams"]} == {s.name for s in streams.ALL_STREAMS}
    env.pop("MODELYARD_NATS_CREDS")
    refused = await asyncio.to_thread(CliRunner().invoke, cli.app, ["streams"], env=env)
    assert refused.exit_code != 0 and "Traceback" not in refused.output, refused.output
