"""Staged rollouts, as pure decisions: how devices split into waves (a canary first, then waves of a size), and
what a deployment does when one of its devices reports: nothing yet, start the next wave, finish, or abort."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TypeVar

from modelyard.contracts.api.devices import DeviceDeployStatus

T = TypeVar("T")
# Failures worth another try with fresh URLs (the network, an expired URL); a refused release is not.
RETRYABLE = frozenset({"http", "short", "timeout"})


def plan_waves(
    devices: Sequence[T],
    *,
    canary: int | None = None,
    canary_percent: float | None = None,
    wave_size: int | None = None,
) -> list[list[T]]:
    """The canary (a count, or a percentage rounded up, at least one device) first; then waves of `wave_size`
    (default: everything left in one wave)."""
    items = list(devices)
    if not items:
        return []
    first = canary if canary is not None else None
    if canary_percent is not None:
        first = max(1, math.ceil(len(items) * canary_percent / 100))
    waves: list[list[T]] = []
    if first is not None:
        waves.append(items[: min(first, len(items))])
        items = items[len(waves[0]) :]
    size = wave_size or len(items) or 1
    waves += [items[i : i + size] for i in range(0, len(items), size)]
    return waves


class Next(StrEnum):
    WAIT = "wait"
    NEXT_WAVE = "next_wave"
    COMPLETE = "complete"
    FAIL = "fail"  # finished with failures within the threshold
    ABORT = "abort"


@dataclass(frozen=True)
class Progress:
    current_wave: int
    waves: int
    failures: int
    failure_threshold: int
    paused: bool
    current_wave_statuses: tuple[DeviceDeployStatus, ...]


def decide(p: Progress) -> Next:
    if p.failures > p.failure_threshold:
        return Next.ABORT
    if not all(s.final for s in p.current_wave_statuses):
        return Next.WAIT
    if p.current_wave + 1 < p.waves:
        return Next.WAIT if p.paused else Next.NEXT_WAVE
    return Next.FAIL if p.failures else Next.COMPLETE
