"""The trainer's side of request/reply with the scheduler: claim a dispatched job. Trainers are services, not
users: they call as the platform's service principal (NATS credentials, not API keys, authorise them)."""

from __future__ import annotations

from uuid import UUID

from nats.aio.client import Client as NatsClient
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeout

from modelyard.contracts import subjects
from modelyard.contracts.api.identity import Principal, Role
from modelyard.contracts.api.problems import ProblemDetails
from modelyard.contracts.api.training import Claim, ClaimGranted
from modelyard.contracts.rpc import ServiceReply, ServiceRequest

SERVICE = Principal(org_id=UUID(int=0), user_id=UUID(int=0), role=Role.SUPER_ADMIN)


class ClaimDenied(Exception):
    def __init__(self, problem: ProblemDetails) -> None:
        super().__init__(problem.detail or problem.title)
        self.problem = problem

    @property
    def gone(self) -> bool:
        """The job is over (finished, cancelled, taken): drop the message."""
        return self.problem.status in (404, 409)


class SchedulerUnavailable(Exception):
    pass


async def claim(nc: NatsClient, job_id: UUID, trainer_id: str, delivery: int, timeout_s: float = 10.0) -> ClaimGranted:
    request = ServiceRequest(
        principal=SERVICE,
        correlation_id=f"claim-{job_id}-{delivery}",
        payload=Claim(job_id=job_id, trainer_id=trainer_id, delivery=delivery).model_dump(mode="json"),
    )
    try:
        message = await nc.request(subjects.SVC_JOB_CLAIM, request.model_dump_json().encode(), timeout=timeout_s)
    except (NoRespondersError, NatsTimeout) as exc:
        raise SchedulerUnavailable(str(exc) or type(exc).__name__) from exc
    reply = ServiceReply.model_validate_json(message.data)
    if reply.problem is not None:
        raise ClaimDenied(reply.problem)
    return ClaimGranted.model_validate(reply.result)
