"""Ultralytics trainer callbacks that speak the child protocol, and the cancel switch they honour.

Ultralytics calls, per epoch: on_train_epoch_start, on_train_batch_end (each batch), on_train_epoch_end, the
validator's on_val_batch_end (each batch), on_model_save (after last.pt, and best.pt when fitness improved, are
written), on_fit_epoch_end. After the last epoch it strips optimizer state from last.pt and best.pt, validates
best.pt and calls on_fit_epoch_end once more (with only the metrics/* keys), then on_train_end.

The bridge reads what the trainer already holds; it never validates or saves anything itself.
"""

from __future__ import annotations

import logging
import os
import re
import signal
from pathlib import Path
from typing import Any, Literal

from modelyard.frameworks.cancel import CancelSwitch
from modelyard.frameworks.protocol import (
    CheckpointSaved,
    EpochEnded,
    EventWriter,
    LogLine,
    Metrics,
    Started,
    clean_metrics,
)

Trainer = Any  # ultralytics.engine.trainer.BaseTrainer: untyped


class EventBridge:
    def __init__(self, writer: EventWriter, switch: CancelSwitch, crash_after_epoch: int | None = None) -> None:
        self.writer = writer
        self.switch = switch
        self.crash_after_epoch = crash_after_epoch  # tests only: die like a crashed machine after this epoch
        self.last_epoch: int | None = None  # last finished epoch, 1-based
        self.best_epoch: int | None = None
        self.final_metrics: Metrics = {}
        self._pending_epoch: int | None = None  # 0-based epoch between on_train_epoch_end and on_fit_epoch_end
        self._checkpoints: list[tuple[Literal["last", "best"], Path, int]] = []
        self._defer_checkpoints = False

    def attach(self, model: Any) -> None:
        model.add_callback("on_train_start", self.on_train_start)
        model.add_callback("on_train_epoch_start", self.switch.check)
        model.add_callback("on_train_batch_end", self.switch.check)
        model.add_callback("on_val_batch_end", self.switch.check)
        model.add_callback("on_train_epoch_end", self.on_train_epoch_end)
        model.add_callback("on_model_save", self.on_model_save)
        model.add_callback("on_fit_epoch_end", self.on_fit_epoch_end)
        model.add_callback("on_train_end", self.on_train_end)

    def on_train_start(self, trainer: Trainer) -> None:
        self.switch.immediate = False
        resumed = int(trainer.start_epoch) if trainer.resume and trainer.start_epoch > 0 else None
        if resumed is not None:
            self.last_epoch = resumed
            best = getattr(trainer.stopper, "best_epoch", 0)
            self.best_epoch = int(best) if best else None
        self.writer.emit(Started(epochs=int(trainer.epochs), resumed_from_epoch=resumed))
        self.switch.check()  # a signal that came during setup while raising was off

    def on_train_epoch_end(self, trainer: Trainer) -> None:
        self._pending_epoch = int(trainer.epoch)

    def on_model_save(self, trainer: Trainer) -> None:
        epoch = int(trainer.epoch) + 1
        self._checkpoints.append(("last", Path(trainer.last), epoch))
        if trainer.best_fitness == trainer.fitness:  # the condition under which save_model wrote best.pt
            self._checkpoints.append(("best", Path(trainer.best), epoch))
        # The final save is rewritten (optimizer stripped) after the loop: report it once that is done.
        self._defer_checkpoints = bool(trainer.stop)

    def on_fit_epoch_end(self, trainer: Trainer) -> None:
        if self._pending_epoch is None:  # the extra call after the final validation of best.pt
            self.final_metrics = clean_metrics(dict(trainer.metrics or {}))
            return
        epoch = self._pending_epoch + 1
        self._pending_epoch = None
        metrics: dict[str, Any] = {}
        if trainer.tloss is not None:
            metrics.update(trainer.label_loss_items(trainer.tloss, prefix="train"))
        metrics.update(trainer.metrics or {})
        metrics.update(getattr(trainer, "lr", None) or {})
        metrics["fitness"] = trainer.fitness
        epoch_time = trainer.epoch_time
        self.writer.emit(
            EpochEnded(
                epoch=epoch,
                epochs=int(trainer.epochs),
                metrics=clean_metrics(metrics),
                epoch_time_s=float(epoch_time) if epoch_time is not None else None,
            )
        )
        self.last_epoch = epoch
        self.final_metrics = clean_metrics(dict(trainer.metrics or {}))
        if not self._defer_checkpoints:
            self._flush_checkpoints()
        if self.crash_after_epoch is not None and epoch >= self.crash_after_epoch:
            os.kill(os.getpid(), signal.SIGKILL)
        self.switch.check()

    def on_train_end(self, trainer: Trainer) -> None:
        self._flush_checkpoints()

    def _flush_checkpoints(self) -> None:
        for kind, path, epoch in self._checkpoints:
            size = path.stat().st_size if path.exists() else None
            self.writer.emit(CheckpointSaved(kind=kind, path=str(path), epoch=epoch, size=size))
            if kind == "best":
                self.best_epoch = epoch
        self._checkpoints.clear()
        self._defer_checkpoints = False


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


class WarningForwarder(logging.Handler):
    """Sends the framework's warnings and errors as `log` events too (its whole output is on stderr anyway), at
    most `limit` of them, so that a chatty run cannot flood the event stream."""

    def __init__(self, writer: EventWriter, limit: int = 50) -> None:
        super().__init__(level=logging.WARNING)
        self.writer = writer
        self.remaining = limit

    def emit(self, record: logging.LogRecord) -> None:
        if self.remaining <= 0:
            return
        self.remaining -= 1
        try:
            line = _ANSI.sub("", record.getMessage()).strip()[:2000]
            if line:
                self.writer.emit(LogLine(line=line, level="error" if record.levelno >= logging.ERROR else "warning"))
        except Exception:  # noqa: BLE001  # logging must never break training: report it the logging way
            self.handleError(record)
