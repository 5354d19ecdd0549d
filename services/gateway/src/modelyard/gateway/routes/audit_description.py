"""The OpenAPI facts of `GET /api/v1/audit`. Its module (routes/audit.py) registers it with a plain RouteTableDef;
until it describes itself with `Api.route`, its description lives here, and the OpenAPI test checks that the two
still name the same method and path."""

from __future__ import annotations

from modelyard.contracts.api.audit import AuditList, AuditQuery
from modelyard.gateway.endpoints import Endpoint

LIST_AUDIT: Endpoint[AuditQuery, AuditList] = Endpoint(
    method="GET",
    path="/api/v1/audit",
    operation_id="list_audit",
    tag="audit",
    summary="The audit trail (admins)",
    description="Who did what, across every service, newest first, within the caller's organisation. `action` is "
    "exact or a prefix ending in `*` (`model.*`); `since` is inclusive, `until` exclusive.",
    request=AuditQuery,
    from_query=True,
    response=AuditList,
    forwarded=False,  # answered from the gateway's own projection
    errors=frozenset({403}),
)
ENDPOINTS = (LIST_AUDIT,)
