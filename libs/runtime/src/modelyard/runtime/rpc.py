"""Request/reply between the gateway and the services over core NATS (`svc.<service>.<operation>`).

Service side: `@responder(broker, subject, PayloadModel, queue="dataset")` turns a typed function
`(principal, payload, correlation_id) -> BaseModel` into a faststream subscriber in the service's queue group.
It refuses callers without the permission the matrix names for the subject (403), validates the payload (422
with per-field errors), maps ServiceError leaves to ProblemDetails, hides anything else behind a 500, and binds the
correlation id into the logs.

Client side: `RpcClient.call(subject, principal, payload, correlation_id)` returns the typed result or raises the
ServiceError the reply describes, so the gateway answers with the service's own ProblemDetails.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from faststream.nats import NatsBroker
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeout
from pydantic import BaseModel, ValidationError

from modelyard.contracts import permissions
from modelyard.contracts.api.identity import Principal
from modelyard.contracts.api.problems import ProblemDetails
from modelyard.contracts.permissions import Permission
from modelyard.contracts.rpc import ServiceReply, ServiceRequest
from modelyard.runtime.access import require
from modelyard.runtime.logging import bound, get_logger
from modelyard.runtime.problems import ServiceError, Unavailable, invalid

log = get_logger(__name__)

P = TypeVar("P", bound=BaseModel)
R = TypeVar("R", bound=BaseModel)
Handler = Callable[[Principal, P, str], Awaitable[BaseModel]]


def responder(
    broker: NatsBroker, subject: str, payload_model: type[P], *, queue: str
) -> Callable[[Handler[P]], Handler[P]]:
    """The handler answers only callers holding the permission the matrix names for `subject` (403 otherwise)."""
    if subject not in permissions.SUBJECTS:
        raise KeyError(f"{subject} is not in the permission matrix (modelyard.contracts.permissions.SUBJECTS)")
    needs = permissions.SUBJECTS[subject]

    def register(fn: Handler[P]) -> Handler[P]:
        @broker.subscriber(subject, queue=queue, title=subject)
        async def handle(body: dict[str, Any]) -> dict[str, Any]:
            return (await answer(fn, payload_model, body, needs=needs)).model_dump(mode="json")

        return fn

    return register


async def answer(
    fn: Handler[P], payload_model: type[P], body: dict[str, Any], *, needs: Permission | None = None
) -> ServiceReply:
    """Run one request through a handler and build the reply; never raises."""
    try:
        request = ServiceRequest.model_validate(body)
    except ValidationError as exc:
        return ServiceReply(problem=invalid(exc).problem())
    with bound(correlation_id=request.correlation_id, org_id=str(request.principal.org_id)):
        try:
            if needs is not None:
                require(request.principal, needs)
            try:
                payload = payload_model.model_validate(request.payload)
            except ValidationError as exc:
                raise invalid(exc) from None
            result = await fn(request.principal, payload, request.correlation_id)
            return ServiceReply(result=result.model_dump(mode="json"))
        except ServiceError as exc:
            return ServiceReply(problem=exc.problem(request.correlation_id))
        except Exception:
            log.exception("rpc.handler_failed")
            return ServiceReply(
                problem=ServiceError("unexpected error; see the service log").problem(request.correlation_id)
            )


class RemoteProblem(ServiceError):
    """A service answered with a problem; carries it unchanged to the caller."""

    def __init__(self, problem: ProblemDetails) -> None:
        super().__init__(problem.detail or problem.title, errors=problem.errors)
        self.problem_details = problem

    def problem(self, correlation_id: str | None = None) -> ProblemDetails:
        return self.problem_details


class RpcClient:
    def __init__(self, broker: NatsBroker, *, timeout_s: float = 10.0, no_responders_wait_s: float = 2.0) -> None:
        self._broker = broker
        self._timeout_s = timeout_s
        self._no_responders_wait_s = no_responders_wait_s

    async def call(
        self,
        subject: str,
        principal: Principal,
        payload: BaseModel,
        correlation_id: str,
        result_model: type[R],
        *,
        timeout_s: float | None = None,
    ) -> R:
        request = ServiceRequest(
            principal=principal,
            correlation_id=correlation_id,
            payload=payload.model_dump(mode="json", exclude_unset=True),  # PATCH semantics survive the hop
        )
        service = subject.split(".")[1]
        deadline = time.monotonic() + self._no_responders_wait_s
        while True:
            try:
                message = await self._broker.request(
                    request.model_dump_json().encode(),
                    subject,
                    timeout=timeout_s or self._timeout_s,
                    correlation_id=correlation_id,
                )
                break
            except NoRespondersError as exc:
                # Nobody subscribed: the service is (re)starting. Nothing was delivered, so waiting is safe.
                if time.monotonic() >= deadline:
                    raise Unavailable(f"the {service} service is not running") from exc
                await asyncio.sleep(0.1)
            except (NatsTimeout, TimeoutError) as exc:  # delivered but unanswered: never resend a command
                raise Unavailable(f"the {service} service did not answer in time") from exc
        reply = ServiceReply.model_validate_json(message.body)
        if reply.problem is not None:
            raise RemoteProblem(reply.problem)
        return result_model.model_validate(reply.result)
