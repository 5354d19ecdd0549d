"""Request/reply over core NATS (`svc.<service>.<operation>`): the gateway sends a ServiceRequest carrying the
caller, the service answers a ServiceReply holding either the typed result or a ProblemDetails."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from modelyard.contracts.api.identity import Principal
from modelyard.contracts.api.problems import ProblemDetails


class ServiceRequest(BaseModel):
    model_config = ConfigDict(frozen=True)

    principal: Principal
    correlation_id: str
    payload: dict[str, Any]


class ServiceReply(BaseModel):
    model_config = ConfigDict(frozen=True)

    result: dict[str, Any] | None = None
    problem: ProblemDetails | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None
