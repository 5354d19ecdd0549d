-- The audit projection: one row per audit fact on the AUDIT stream (AuditRecorded from every service, UserCreated
-- from the gateway), kept by the gateway-audit consumer and read by GET /api/v1/audit, newest first within an org.
-- The event id is the key, so a redelivered event is stored once.
CREATE TABLE audit_events (
    event_id       uuid PRIMARY KEY,
    org_id         uuid,                         -- NULL only for platform-level events, which no org query returns
    occurred_at    timestamptz NOT NULL,
    actor          text        NOT NULL,         -- user:<id>, service:<name> or device:<id>
    service        text        NOT NULL,
    action         text        NOT NULL,         -- canonical <resource>.<verb>
    resource_type  text        NOT NULL,
    resource_id    text        NOT NULL,
    summary        text        NOT NULL DEFAULT '',
    detail         jsonb       NOT NULL DEFAULT '{}',
    correlation_id text        NOT NULL,
    projected_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_events_org_time ON audit_events (org_id, occurred_at DESC, event_id DESC);
-- text_pattern_ops: the index serves both `action = $1` and the prefix filter `action LIKE 'model.%'`
CREATE INDEX audit_events_org_action ON audit_events (org_id, action text_pattern_ops, occurred_at DESC);
CREATE INDEX audit_events_org_actor ON audit_events (org_id, actor, occurred_at DESC);
