"""The reply a service sends for every kind of outcome (no broker needed: `answer` is the whole logic)."""

import uuid

from pydantic import BaseModel, Field

from modelyard.contracts import permissions, subjects
from modelyard.contracts.api.identity import Principal, Role
from modelyard.contracts.permissions import Permission
from modelyard.contracts.rpc import ServiceRequest
from modelyard.runtime.problems import NotFound
from modelyard.runtime.rpc import answer


class Echo(BaseModel):
    text: str = Field(min_length=1)


PRINCIPAL = Principal(org_id=uuid.uuid4(), user_id=uuid.uuid4(), role=Role.VIEWER)


def _request(payload: dict[str, object]) -> dict[str, object]:
    return ServiceRequest(principal=PRINCIPAL, correlation_id="corr-9", payload=payload).model_dump(mode="json")


async def ok(principal: Principal, echo: Echo, correlation_id: str) -> Echo:
    return Echo(text=f"{echo.text} from {principal.role.value}")


async def missing(principal: Principal, echo: Echo, correlation_id: str) -> Echo:
    raise NotFound("no such thing")


async def crash(principal: Principal, echo: Echo, correlation_id: str) -> Echo:
    raise KeyError("internal detail that must not leak")


async def test_result_is_returned_typed() -> None:
    reply = await answer(ok, Echo, _request({"text": "hi"}))
    assert reply.ok and reply.result == {"text": "hi from viewer"}


async def test_invalid_payload_is_a_422_naming_the_field() -> None:
    reply = await answer(ok, Echo, _request({"text": ""}))
    assert reply.problem is not None and reply.problem.status == 422
    assert reply.problem.errors is not None and reply.problem.errors[0].field == "text"
    assert reply.problem.correlation_id == "corr-9"


async def test_service_error_keeps_its_category() -> None:
    reply = await answer(missing, Echo, _request({"text": "x"}))
    assert reply.problem is not None and reply.problem.status == 404 and reply.problem.detail == "no such thing"


async def test_unexpected_error_is_a_500_without_internals() -> None:
    reply = await answer(crash, Echo, _request({"text": "x"}))
    assert reply.problem is not None and reply.problem.status == 500
    assert "internal detail" not in reply.problem.model_dump_json()


async def test_a_request_without_principal_is_refused() -> None:
    reply = await answer(ok, Echo, {"payload": {"text": "x"}})
    assert reply.problem is not None and reply.problem.status == 422


async def test_a_caller_without_the_permission_is_refused_before_the_payload_is_read() -> None:
    reply = await answer(ok, Echo, _request({"text": ""}), needs=Permission.TRAINING_RUN)
    assert reply.problem is not None and reply.problem.status == 403
    assert reply.problem.detail == "a viewer may not training:run"


async def test_a_scoped_key_is_refused_what_its_role_allows_but_its_scopes_do_not() -> None:
    admin = Principal(
        org_id=uuid.uuid4(), user_id=uuid.uuid4(), role=Role.ORG_ADMIN, scopes=frozenset({Permission.MODEL_READ})
    )
    body = ServiceRequest(principal=admin, correlation_id="c", payload={"text": "x"}).model_dump(mode="json")
    refused = await answer(ok, Echo, body, needs=Permission.TRAINING_RUN)
    assert refused.problem is not None and refused.problem.status == 403
    assert "scopes do not include training:run" in (refused.problem.detail or "")
    allowed = await answer(ok, Echo, body, needs=Permission.MODEL_READ)
    assert allowed.ok and allowed.result == {"text": "x from org_admin"}


def test_every_service_request_subject_is_in_the_permission_matrix() -> None:
    named = {value for name, value in vars(subjects).items() if name.startswith("SVC_") and "{" not in value}
    assert named == set(permissions.SUBJECTS)
