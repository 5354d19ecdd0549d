CREATE TABLE orgs (
    id         uuid PRIMARY KEY,
    name       text        NOT NULL UNIQUE,
    plan       text        NOT NULL DEFAULT 'free',
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE users (
    id         uuid PRIMARY KEY,
    org_id     uuid        NOT NULL REFERENCES orgs (id),
    name       text        NOT NULL,
    role       text        NOT NULL,
    disabled   boolean     NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX users_org ON users (org_id);

-- API keys are stored as sha256 of the whole key; the key itself is shown once, at creation.
CREATE TABLE api_keys (
    id           uuid PRIMARY KEY,
    org_id       uuid        NOT NULL REFERENCES orgs (id),
    user_id      uuid        NOT NULL REFERENCES users (id),
    prefix       text        NOT NULL,
    key_sha256   text        NOT NULL UNIQUE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    revoked_at   timestamptz
);
CREATE INDEX api_keys_user ON api_keys (user_id);
