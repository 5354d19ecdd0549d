"""The learning rate of each epoch, and early stopping: plain Python state that a checkpoint saves and a resumed run
restores, so that a resumed job continues with exactly the rates an uninterrupted one would have used.

Epochs are 1-based. During warmup (epochs 1..W) the rate rises linearly: lr * e / (W + 1). After it:
- cosine: lr_end + (lr - lr_end) * (1 + cos(pi * t)) / 2 with t = (e - W - 1) / max(1, E - W - 1) running 0..1 over
  the remaining epochs and lr_end = lr * COSINE_FLOOR;
- step: lr * factor ** ((e - W - 1) // step_epochs);
- plateau: lr * factor ** k, where k counts the decays so far: one each time more than `plateau_patience` epochs in
  a row pass without a validation loss below the best one seen (then the count starts again), as torch's
  ReduceLROnPlateau counts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

COSINE_FLOOR = 0.01


@dataclass
class LrSchedule:
    kind: str  # cosine | step | plateau
    lr: float
    epochs: int
    warmup_epochs: int = 0
    step_epochs: int = 30
    factor: float = 0.1
    plateau_patience: int = 3
    # plateau state
    decays: int = 0
    best_loss: float = math.inf
    bad_epochs: int = 0

    def __post_init__(self) -> None:
        if self.kind not in ("cosine", "step", "plateau"):
            raise ValueError(f"unknown lr_scheduler {self.kind!r}; known: cosine, step, plateau")

    def lr_for(self, epoch: int) -> float:
        """The learning rate of (1-based) `epoch`."""
        warmup = self.warmup_epochs
        if epoch <= warmup:
            return self.lr * epoch / (warmup + 1)
        after = epoch - warmup - 1
        if self.kind == "cosine":
            span = max(1, self.epochs - warmup - 1)
            end = self.lr * COSINE_FLOOR
            return end + (self.lr - end) * (1.0 + math.cos(math.pi * min(after, span) / span)) / 2.0
        if self.kind == "step":
            return self.lr * self.factor ** (after // self.step_epochs)
        return self.lr * self.factor**self.decays

    def observe(self, epoch: int, val_loss: float) -> None:
        """Tell the schedule how `epoch` went (plateau decays on it; the others ignore it)."""
        if self.kind != "plateau" or epoch <= self.warmup_epochs:
            return
        if val_loss < self.best_loss:
            self.best_loss = val_loss
            self.bad_epochs = 0
            return
        self.bad_epochs += 1
        if self.bad_epochs > self.plateau_patience:
            self.decays += 1
            self.bad_epochs = 0

    def state_dict(self) -> dict[str, Any]:
        return {"decays": self.decays, "best_loss": self.best_loss, "bad_epochs": self.bad_epochs}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.decays = int(state["decays"])
        self.best_loss = float(state["best_loss"])
        self.bad_epochs = int(state["bad_epochs"])


@dataclass
class BestTracker:
    """The best epoch by validation accuracy (ties: the lower validation loss), and early stopping on it."""

    patience: int  # 0: never stop early
    best_epoch: int | None = None
    best_accuracy: float = -1.0
    best_loss: float = math.inf
    since_best: int = 0
    best_details: dict[str, Any] = field(default_factory=dict)  # the best epoch's evaluation, for the report

    def update(self, epoch: int, accuracy: float, loss: float, details: dict[str, Any] | None = None) -> bool:
        """Record `epoch`; True when it is the new best."""
        better = accuracy > self.best_accuracy or (accuracy == self.best_accuracy and loss < self.best_loss)
        if better:
            self.best_epoch, self.best_accuracy, self.best_loss, self.since_best = epoch, accuracy, loss, 0
            self.best_details = dict(details or {})
        else:
            self.since_best += 1
        return better

    @property
    def should_stop(self) -> bool:
        return self.patience > 0 and self.since_best >= self.patience

    def state_dict(self) -> dict[str, Any]:
        return {
            "best_epoch": self.best_epoch,
            "best_accuracy": self.best_accuracy,
            "best_loss": self.best_loss,
            "since_best": self.since_best,
            "best_details": dict(self.best_details),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best_epoch = None if state["best_epoch"] is None else int(state["best_epoch"])
        self.best_accuracy = float(state["best_accuracy"])
        self.best_loss = float(state["best_loss"])
        self.since_best = int(state["since_best"])
        self.best_details = dict(state.get("best_details") or {})
