CREATE TABLE jobs (
    id               uuid PRIMARY KEY,
    org_id           uuid             NOT NULL,
    name             text             NOT NULL,
    dataset_id       uuid             NOT NULL,
    dataset_version  integer          NOT NULL,
    manifest_sha256  text             NOT NULL,
    manifest_key     text             NOT NULL,
    ai_module        text,
    framework        text             NOT NULL,
    task             text             NOT NULL,
    mode             text             NOT NULL,
    overrides        jsonb            NOT NULL,
    config           jsonb            NOT NULL,
    priority         text             NOT NULL,
    pool             text             NOT NULL,
    status           text             NOT NULL,
    attempt          integer          NOT NULL DEFAULT 0,  -- the fencing token of the attempt now running
    failures         integer          NOT NULL DEFAULT 0,
    dispatches       integer          NOT NULL DEFAULT 0,
    retry_at         timestamptz,
    cancel_requested boolean          NOT NULL DEFAULT false,
    trainer_id       text,
    current_epoch    integer          NOT NULL DEFAULT 0,
    total_epochs     integer          NOT NULL DEFAULT 0,
    best_epoch       integer,
    best_fitness     double precision,
    metrics          jsonb            NOT NULL DEFAULT '{}',
    error_message    text,
    created_by       text             NOT NULL,
    created_at       timestamptz      NOT NULL DEFAULT now(),
    queued_at        timestamptz,
    started_at       timestamptz,
    finished_at      timestamptz,
    updated_at       timestamptz      NOT NULL DEFAULT now()
);
CREATE INDEX jobs_org_created ON jobs (org_id, created_at DESC);
CREATE INDEX jobs_org_status ON jobs (org_id, status);
CREATE INDEX jobs_retry_due ON jobs (retry_at) WHERE status = 'queued' AND retry_at IS NOT NULL;

-- One row per epoch, whichever attempt reported it first: a resumed job never repeats an epoch.
CREATE TABLE job_metrics (
    job_id       uuid             NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    epoch        integer          NOT NULL,
    attempt      integer          NOT NULL,
    metrics      jsonb            NOT NULL,
    epoch_time_s double precision,
    at           timestamptz      NOT NULL DEFAULT now(),
    PRIMARY KEY (job_id, epoch)
);

CREATE TABLE job_logs (
    job_id  uuid        NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    line_no bigint      NOT NULL,
    attempt integer     NOT NULL,
    line    text        NOT NULL,
    at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (job_id, line_no)
);

CREATE TABLE job_artifacts (
    job_id  uuid    NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    name    text    NOT NULL,
    key     text    NOT NULL,
    size    bigint  NOT NULL,
    sha256  text    NOT NULL,
    epoch   integer,
    attempt integer NOT NULL,
    PRIMARY KEY (job_id, name)
);
