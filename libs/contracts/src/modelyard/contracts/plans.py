"""Plans and their limits. The gateway passes the caller's plan with every request; each service enforces the
limits of what it owns (upload and dataset sizes in the dataset service, custom training and job quotas in the
scheduler, active models per module in the registry, request rates in the gateway).

`pro` and `enterprise` are the two rows of seed 001's plan table ("Professional": pre-trained modules only, no
custom training; "Enterprise": 10 training jobs a month, 10 GB datasets, 5 active models per module). `free` is
the evaluation plan a fresh install starts with: everything on, small numbers, so one machine can try it all."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

GIB = 1024**3


class Plan(StrEnum):
    FREE = "free"
    PRO = "pro"
    ENTERPRISE = "enterprise"


@dataclass(frozen=True, slots=True)
class PlanLimits:
    """`None`: no limit. `requests_per_s`/`burst`: each API key's token bucket in the gateway."""

    custom_training: bool
    jobs_per_month: int
    max_concurrent_jobs: int
    max_dataset_bytes: int | None
    max_upload_bytes: int
    max_open_uploads: int
    active_models_per_module: int | None
    requests_per_s: float
    burst: int


LIMITS: dict[Plan, PlanLimits] = {
    Plan.FREE: PlanLimits(
        custom_training=True,
        jobs_per_month=50,
        max_concurrent_jobs=1,
        max_dataset_bytes=5 * GIB,
        max_upload_bytes=2 * GIB,
        max_open_uploads=10,
        active_models_per_module=2,
        requests_per_s=50,
        burst=200,
    ),
    Plan.PRO: PlanLimits(
        custom_training=False,
        jobs_per_month=0,
        max_concurrent_jobs=0,
        max_dataset_bytes=None,
        max_upload_bytes=10 * GIB,
        max_open_uploads=100,
        active_models_per_module=None,
        requests_per_s=200,
        burst=400,
    ),
    Plan.ENTERPRISE: PlanLimits(
        custom_training=True,
        jobs_per_month=10,
        max_concurrent_jobs=4,
        max_dataset_bytes=10 * GIB,
        max_upload_bytes=10 * GIB,
        max_open_uploads=1000,
        active_models_per_module=5,
        requests_per_s=1000,
        burst=2000,
    ),
}


def limits(plan: Plan | str) -> PlanLimits:
    return LIMITS[Plan(plan)]
