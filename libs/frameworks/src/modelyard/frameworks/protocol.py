"""What a training child process says to the trainer worker.

The child writes one JSON object per line to its stdout and nothing else goes there (a framework's own printing is
sent to stderr, which the worker keeps as the job's log). Every line is one of the events below, told apart by
`type`. In order, a run says:

    started
    for each epoch E (1-based): epoch E, then checkpoint last E, then checkpoint best E if fitness improved
    exported (one per format), any artifact events (plots, tables), completed

and ends with exit code 0. `log` events (a few notable lines, the framework's warnings) may come at any time.

Endings other than completion:
- failed event, exit EXIT_FAILED (1): any error; EXIT_USAGE (2) when the spec file cannot be read.
- cancelled event, exit 128 + signal (EXIT_CANCELLED = 143 for SIGTERM, 130 for SIGINT). Send SIGTERM once: the
  child stops at the next batch boundary (within a batch's time during training, at once during setup or export),
  never in the middle of writing a checkpoint. A second signal stops it at once, whatever it is doing. A SIGTERM in
  the first few tens of milliseconds, before the handler is installed, kills it plainly (exit status -15, no event).
- nothing: killed outright (SIGKILL, out of memory). The worker sees only the exit status.

A resumed run (from a checkpoint of an earlier attempt) says `started` with `resumed_from_epoch` = the last epoch
that checkpoint finished, then continues with the next epoch: epoch numbers never repeat within one job. A resume
from a checkpoint whose training had already finished says `started` with resumed_from_epoch == epochs, then only
exported and completed.

Checkpoint files are complete when their event is read; the next epoch overwrites last.pt, so copy it before use.
The last epoch's checkpoints are reported after the framework's final pass over them (Ultralytics strips optimizer
state from them after training), so they are final.
"""

from __future__ import annotations

import math
import os
import signal
import sys
import threading
from typing import IO, Annotated, Any, Literal, TypeAlias

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

EXIT_COMPLETED = 0
EXIT_FAILED = 1
EXIT_USAGE = 2  # bad command line or unreadable spec, before any event could be trusted
EXIT_CANCELLED = 128 + signal.SIGTERM  # 143


def exit_code_for_signal(signum: int) -> int:
    return 128 + signum


Metrics: TypeAlias = dict[str, float | None]  # None where the framework produced NaN or infinity


class _Message(BaseModel):
    # Unknown fields are ignored so that a newer child can add some without breaking an older worker.
    model_config = ConfigDict(frozen=True, extra="ignore")


class Started(_Message):
    type: Literal["started"] = "started"
    epochs: int
    resumed_from_epoch: int | None = None


class EpochEnded(_Message):
    type: Literal["epoch"] = "epoch"
    epoch: int = Field(ge=1, description="1-based, as users count")
    epochs: int
    metrics: Metrics
    epoch_time_s: float | None = None


class CheckpointSaved(_Message):
    type: Literal["checkpoint"] = "checkpoint"
    kind: Literal["last", "best"]
    path: str
    epoch: int = Field(ge=1)
    size: int | None = None


class LogLine(_Message):
    type: Literal["log"] = "log"
    line: str
    level: Literal["info", "warning", "error"] = "info"


class Exported(_Message):
    type: Literal["exported"] = "exported"
    format: str
    path: str
    size: int
    sha256: str


class ArtifactWritten(_Message):
    """Any other file the job should keep (a plot, an evaluation table): uploaded under `name` beside the
    checkpoints and listed with them (GET /api/v1/training/jobs/{id}/checkpoints)."""

    type: Literal["artifact"] = "artifact"
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
    path: str
    size: int
    sha256: str


class Completed(_Message):
    type: Literal["completed"] = "completed"
    best_epoch: int | None = None
    metrics: Metrics = Field(default_factory=dict)
    framework_version: str | None = None  # e.g. "ultralytics 8.4.190", recorded in the model's lineage


class Failed(_Message):
    type: Literal["failed"] = "failed"
    error: str


class Cancelled(_Message):
    type: Literal["cancelled"] = "cancelled"
    signal: str = "SIGTERM"
    epoch: int | None = Field(default=None, description="the last epoch that finished before the cancel")


ChildEvent: TypeAlias = Annotated[
    Started | EpochEnded | CheckpointSaved | LogLine | Exported | ArtifactWritten | Completed | Failed | Cancelled,
    Field(discriminator="type"),
]
TERMINAL_TYPES = frozenset({"completed", "failed", "cancelled"})

_ADAPTER: TypeAdapter[ChildEvent] = TypeAdapter(ChildEvent)


class ProtocolError(ValueError):
    """A stdout line that is not a valid event."""

    def __init__(self, line: str, reason: str) -> None:
        super().__init__(f"invalid training event line ({reason}): {line[:200]!r}")
        self.line = line
        self.reason = reason


def parse_event(line: str | bytes) -> ChildEvent:
    """One stdout line (with or without its newline) as an event; raises ProtocolError otherwise."""
    text = line.decode("utf-8", errors="replace") if isinstance(line, bytes) else line
    text = text.strip()
    try:
        return _ADAPTER.validate_json(text)
    except ValidationError as e:
        first = e.errors()[0] if e.errors() else {"msg": str(e)}
        raise ProtocolError(text, str(first.get("msg", e))) from None


def encode_event(event: ChildEvent) -> str:
    """The single line (without the newline) that carries `event`."""
    return event.model_dump_json()


def clean_metrics(values: dict[str, Any]) -> Metrics:
    """Metric values as plain floats; NaN and infinities (and values that are not numbers) become None."""
    out: Metrics = {}
    for key, value in values.items():
        try:
            number = float(value)
        except (TypeError, ValueError):
            out[str(key)] = None
            continue
        out[str(key)] = number if math.isfinite(number) else None
    return out


class EventWriter:
    """Writes events, one flushed line each, to a stream only the protocol uses."""

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream
        self._lock = threading.Lock()  # a framework may log (and so emit) from its own threads

    def emit(self, event: ChildEvent) -> None:
        line = encode_event(event) + "\n"
        with self._lock:
            self._stream.write(line)
            self._stream.flush()

    def close(self) -> None:
        self._stream.close()

    @classmethod
    def take_stdout(cls) -> EventWriter:
        """Keep the real stdout for events and point fd 1 (and `sys.stdout`) at stderr, so that whatever else prints
        (a framework's logger, print, progress bars, C extensions) cannot corrupt the stream. Call it first thing
        in the child, before importing the framework."""
        sys.stdout.flush()
        private = os.dup(1)  # not inheritable: grandchildren (dataloader workers) never get it
        os.dup2(2, 1)
        stream = os.fdopen(private, "w", encoding="utf-8", buffering=1)
        sys.stdout = sys.stderr
        return cls(stream)


__all__ = [
    "EXIT_CANCELLED",
    "EXIT_COMPLETED",
    "EXIT_FAILED",
    "EXIT_USAGE",
    "TERMINAL_TYPES",
    "Cancelled",
    "CheckpointSaved",
    "ChildEvent",
    "Completed",
    "EpochEnded",
    "EventWriter",
    "Exported",
    "Failed",
    "LogLine",
    "Metrics",
    "ProtocolError",
    "Started",
    "clean_metrics",
    "encode_event",
    "exit_code_for_signal",
    "parse_event",
]
