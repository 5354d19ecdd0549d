"""JetStream streams and durable consumers, declared as data. libs/runtime turns these into server config
idempotently at start; nothing here does I/O."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from modelyard.contracts import subjects

DAY = 24 * 3600.0


class Retention(StrEnum):
    LIMITS = "limits"
    WORK_QUEUE = "workqueue"


@dataclass(frozen=True, slots=True)
class StreamSpec:
    name: str
    subjects: tuple[str, ...]
    retention: Retention = Retention.LIMITS
    max_age_s: float = 0.0  # 0 = keep forever
    max_bytes: int = -1
    duplicate_window_s: float = 120.0  # Nats-Msg-Id dedup window (outbox republishes fall inside it)
    description: str = ""


@dataclass(frozen=True, slots=True)
class ConsumerSpec:
    """A durable pull consumer. Every one has bounded redelivery: MaxDeliver with BackOff, then DLQ.

    `ack_wait_s` is how long one delivery may take before the server assumes the consumer died and redelivers;
    `backoff_s` are the pauses before the 2nd, 3rd, ... attempt after a failure. On the server, JetStream's BackOff
    replaces AckWait, so it is declared as `server_backoff_s`: the first delivery gets `ack_wait_s`, each later one
    `ack_wait_s` plus its pause.
    """

    stream: str
    durable: str
    filter_subject: str
    ack_wait_s: float = 30.0
    max_deliver: int = 5
    backoff_s: tuple[float, ...] = (1.0, 5.0, 30.0)
    max_ack_pending: int = 1000
    description: str = ""

    def __post_init__(self) -> None:
        if self.max_deliver < 1:
            raise ValueError(f"{self.durable}: max_deliver must be at least 1")
        if len(self.backoff_s) >= self.max_deliver:  # JetStream: MaxDeliver > len(BackOff)
            raise ValueError(f"{self.durable}: backoff needs fewer steps than max_deliver")

    @property
    def server_backoff_s(self) -> tuple[float, ...]:
        if not self.backoff_s:
            return ()
        return (self.ack_wait_s, *(self.ack_wait_s + pause for pause in self.backoff_s))

    def pause_before(self, delivery: int) -> float:
        """The pause before delivery number `delivery` + 1, after delivery `delivery` failed."""
        if not self.backoff_s:
            return 0.0
        return self.backoff_s[min(delivery - 1, len(self.backoff_s) - 1)]


DATASETS = StreamSpec("DATASETS", (subjects.DATASETS_ALL,), description="dataset facts")
JOBS = StreamSpec("JOBS", (subjects.JOBS_ALL,), description="job lifecycle")
DISPATCH = StreamSpec(
    "DISPATCH",
    (subjects.DISPATCH_ALL,),
    retention=Retention.WORK_QUEUE,
    description="one message per job attempt",
)
TELEMETRY = StreamSpec(
    "TELEMETRY",
    (subjects.TELEMETRY_ALL,),
    max_age_s=30 * DAY,
    max_bytes=2 * 1024**3,
    description="per-epoch metrics and log lines",
)
MODELS = StreamSpec("MODELS", (subjects.MODELS_ALL,), description="model versions, approvals, releases")
EDGE = StreamSpec(
    "EDGE",
    (subjects.EDGE_DEPLOY_ALL, subjects.EDGE_STATUS_ALL, subjects.EDGE_HEARTBEAT_ALL),
    max_age_s=30 * DAY,
    description="deployments to devices and their reports",
)
AUDIT = StreamSpec("AUDIT", (subjects.AUDIT_ALL,), description="who did what")
DLQ = StreamSpec("DLQ", (subjects.DLQ_ALL,), max_age_s=30 * DAY, description="messages that exhausted MaxDeliver")

ALL_STREAMS: tuple[StreamSpec, ...] = (DATASETS, JOBS, DISPATCH, TELEMETRY, MODELS, EDGE, AUDIT, DLQ)


def dispatch_consumer(pool: str, priority: str, lease_s: float) -> ConsumerSpec:
    """The durable consumer every trainer of a pool shares for one priority (work queues need disjoint filters).
    Its AckWait is the job's lease: a trainer that stops heartbeating loses the job to the next one."""
    return ConsumerSpec(
        DISPATCH.name,
        f"trainers-{pool}-{priority}",
        subjects.dispatch(pool, priority),
        ack_wait_s=lease_s,
        max_deliver=10,
        backoff_s=(),
        max_ack_pending=10_000,
        description=f"{priority}-priority jobs for the {pool} pool",
    )


def stream_for(subject: str) -> StreamSpec:
    for spec in ALL_STREAMS:
        if any(subjects.matches(pattern, subject) for pattern in spec.subjects):
            return spec
    raise KeyError(f"no stream captures subject {subject!r}")
