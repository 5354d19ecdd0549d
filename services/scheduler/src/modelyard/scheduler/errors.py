"""Errors of the scheduler; the category decides the HTTP status."""

from __future__ import annotations

from uuid import UUID

from modelyard.contracts.api.problems import FieldError
from modelyard.runtime.problems import Conflict, Forbidden, InvalidInput, NotFound, QuotaExceeded


class JobNotFound(NotFound):
    slug = "job-not-found"
    title = "Job not found"

    def __init__(self, job_id: UUID) -> None:
        super().__init__(f"job {job_id} does not exist in this organisation", job_id=str(job_id))


class ConfigRejected(InvalidInput):
    slug = "config-invalid"
    title = "Training configuration is invalid"

    def __init__(self, errors: list[FieldError]) -> None:
        fields = ", ".join(e.field for e in errors)
        super().__init__(f"invalid training options: {fields}", errors=errors)


class JobQuotaExceeded(QuotaExceeded):
    slug = "job-quota-exceeded"
    title = "Training quota reached"


class CustomTrainingNotIncluded(Forbidden):
    """The caller's plan has no custom training (pre-trained modules only): a 403, whatever its quotas say."""

    slug = "custom-training-not-included"
    title = "Custom training is not in this plan"


class JobFinished(Conflict):
    slug = "job-finished"
    title = "Job already finished"

    def __init__(self, job_id: UUID, status: str) -> None:
        super().__init__(f"job {job_id} is {status}", job_id=str(job_id), status=status)


class ClaimRefused(Conflict):
    slug = "claim-refused"
    title = "Job cannot be claimed"
