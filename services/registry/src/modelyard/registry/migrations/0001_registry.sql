-- Model versions, one per completed training job, with the lineage that made them.
CREATE TABLE models (
    id              uuid PRIMARY KEY,
    org_id          uuid        NOT NULL,
    ai_module       text        NOT NULL,
    version         text        NOT NULL,
    name            text        NOT NULL,
    task            text        NOT NULL,
    framework       text        NOT NULL,
    status          text        NOT NULL,
    metrics         jsonb       NOT NULL,
    artifacts       jsonb       NOT NULL,
    lineage         jsonb       NOT NULL,
    job_id          uuid        NOT NULL,
    submitted_by    text        NOT NULL,
    notes           text        NOT NULL DEFAULT '',
    approved_by     text,
    approved_at     timestamptz,
    released_at     timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (org_id, ai_module, version),
    UNIQUE (job_id)  -- a redelivered completion registers nothing twice
);
CREATE INDEX models_org_module ON models (org_id, ai_module, created_at DESC);

-- Every lifecycle step with its reason.
CREATE TABLE model_history (
    model_id  uuid        NOT NULL REFERENCES models (id) ON DELETE CASCADE,
    at        timestamptz NOT NULL DEFAULT now(),
    actor     text        NOT NULL,
    action    text        NOT NULL,
    previous  text,
    status    text        NOT NULL,
    reason    text        NOT NULL
);
CREATE INDEX model_history_model ON model_history (model_id, at);

-- One row per module: the release counter (strictly increasing; its row lock serialises releases of one module)
-- and the default model to fall back to.
CREATE TABLE modules (
    org_id           uuid    NOT NULL,
    ai_module        text    NOT NULL,
    release_counter  integer NOT NULL DEFAULT 0,
    default_model_id uuid REFERENCES models (id),
    PRIMARY KEY (org_id, ai_module)
);

-- Signed releases: a release, a rollback or a revert to the default each get their own, higher counter.
CREATE TABLE releases (
    id            uuid PRIMARY KEY,
    org_id        uuid        NOT NULL,
    ai_module     text        NOT NULL,
    model_id      uuid        NOT NULL REFERENCES models (id),
    counter       integer     NOT NULL,
    kind          text        NOT NULL,
    reason        text        NOT NULL,
    files         jsonb       NOT NULL,
    signature_key text        NOT NULL,
    key_id        text        NOT NULL,
    issued_at     timestamptz NOT NULL,
    expires_at    timestamptz NOT NULL,
    released_by   text        NOT NULL,
    platforms     text[]      NOT NULL,
    hardware      text[]      NOT NULL,
    UNIQUE (org_id, ai_module, counter)
);
CREATE INDEX releases_model ON releases (model_id, counter DESC);

CREATE TABLE org_settings (
    org_id    uuid PRIMARY KEY,
    four_eyes boolean NOT NULL DEFAULT true
);

-- A version as the API shows it: with its latest release counter and whether it is its module's default.
CREATE VIEW model_view AS
SELECT m.*,
       (SELECT max(r.counter) FROM releases r WHERE r.model_id = m.id) AS release_counter,
       EXISTS (SELECT FROM modules d WHERE d.org_id = m.org_id AND d.ai_module = m.ai_module
                                       AND d.default_model_id = m.id) AS is_default
FROM models m;
