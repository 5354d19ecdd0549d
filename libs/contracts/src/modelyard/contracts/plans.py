"""Plans and their limits. The gateway passes the caller's plan with every request; each service enforces the
limits of what it owns (upload sizes in the dataset service, job quotas in the scheduler)."""

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
    max_upload_bytes: int
    max_open_uploads: int
    max_concurrent_jobs: int
    jobs_per_month: int


LIMITS: dict[Plan, PlanLimits] = {
    Plan.FREE: PlanLimits(max_upload_bytes=2 * GIB, max_open_uploads=10, max_concurrent_jobs=1, jobs_per_month=50),
    Plan.PRO: PlanLimits(max_upload_bytes=50 * GIB, max_open_uploads=100, max_concurrent_jobs=4, jobs_per_month=1000),
    Plan.ENTERPRISE: PlanLimits(
        max_upload_bytes=500 * GIB, max_open_uploads=1000, max_concurrent_jobs=32, jobs_per_month=100_000
    ),
}


def limits(plan: Plan | str) -> PlanLimits:
    return LIMITS[Plan(plan)]
