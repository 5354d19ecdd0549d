-- One-time enrollment tokens (stored hashed): a device trades one for its identity.
CREATE TABLE enrollment_tokens (
    token_sha256 text PRIMARY KEY,
    org_id       uuid        NOT NULL,
    labels       jsonb       NOT NULL,
    created_by   text        NOT NULL,
    expires_at   timestamptz NOT NULL,
    used_at      timestamptz,
    device_id    uuid
);

CREATE TABLE devices (
    id                uuid PRIMARY KEY,
    org_id            uuid        NOT NULL,
    name              text        NOT NULL,
    hardware_id       text        NOT NULL,
    platform          text        NOT NULL,
    hardware          text        NOT NULL,
    labels            jsonb       NOT NULL,
    enrolled_at       timestamptz NOT NULL DEFAULT now(),
    last_heartbeat_at timestamptz,
    agent_version     text,
    health            text,
    active            jsonb       NOT NULL DEFAULT '{}',
    UNIQUE (org_id, hardware_id)
);
CREATE INDEX devices_labels ON devices USING gin (labels);

-- A deployment of one release to a set of devices, in waves (the first is the canary).
CREATE TABLE deployments (
    id                uuid PRIMARY KEY,
    org_id            uuid        NOT NULL,
    model_id          uuid        NOT NULL,
    ai_module         text        NOT NULL,
    version           text        NOT NULL,
    counter           integer     NOT NULL,
    release_files     jsonb       NOT NULL,
    signature_key     text        NOT NULL,
    status            text        NOT NULL,
    current_wave      integer     NOT NULL DEFAULT 0,
    waves             integer     NOT NULL,
    failure_threshold integer     NOT NULL,
    failures          integer     NOT NULL DEFAULT 0,
    created_by        text        NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX deployments_org ON deployments (org_id, created_at DESC);

CREATE TABLE deployment_devices (
    deployment_id uuid        NOT NULL REFERENCES deployments (id) ON DELETE CASCADE,
    device_id     uuid        NOT NULL REFERENCES devices (id),
    wave          integer     NOT NULL,
    status        text        NOT NULL,
    error         text,
    attempts      integer     NOT NULL DEFAULT 0,
    retry_at      timestamptz,
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (deployment_id, device_id)
);
CREATE INDEX deployment_devices_retry ON deployment_devices (retry_at) WHERE retry_at IS NOT NULL;
