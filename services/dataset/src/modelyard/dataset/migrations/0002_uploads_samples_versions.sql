CREATE TABLE uploads (
    id               uuid PRIMARY KEY,
    org_id           uuid        NOT NULL,
    dataset_id       uuid        NOT NULL REFERENCES datasets (id),
    filename         text        NOT NULL,
    kind             text        NOT NULL,
    size             bigint      NOT NULL,
    sha256           text        NOT NULL,
    chunk_size       bigint      NOT NULL,
    chunk_count      integer     NOT NULL,
    state            text        NOT NULL DEFAULT 'receiving',
    s3_key           text        NOT NULL,
    s3_upload_id     text        NOT NULL,
    error            text,
    problems         jsonb       NOT NULL DEFAULT '[]',
    imported_samples integer     NOT NULL DEFAULT 0,
    skipped_samples  integer     NOT NULL DEFAULT 0,
    created_by       text        NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    expires_at       timestamptz NOT NULL
);
CREATE INDEX uploads_open_expiry ON uploads (expires_at) WHERE state = 'receiving';
CREATE INDEX uploads_org_state ON uploads (org_id, state);

CREATE TABLE upload_chunks (
    upload_id   uuid        NOT NULL REFERENCES uploads (id) ON DELETE CASCADE,
    index       integer     NOT NULL,
    size        bigint      NOT NULL,
    sha256      text        NOT NULL,
    etag        text        NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (upload_id, index)
);

-- A sample's blob lives in S3 under its sha256, shared by every dataset that holds the same bytes.
CREATE TABLE samples (
    id               uuid PRIMARY KEY,
    org_id           uuid             NOT NULL,
    dataset_id       uuid             NOT NULL REFERENCES datasets (id),
    kind             text             NOT NULL,
    sha256           text             NOT NULL,
    size             bigint           NOT NULL,
    media_type       text             NOT NULL,
    labels           jsonb            NOT NULL DEFAULT '{}',
    rating           double precision,
    split            text,
    status           text             NOT NULL DEFAULT 'unlabeled',
    quality          double precision,
    agreement        double precision,
    annotation_count integer          NOT NULL DEFAULT 0,
    metadata         jsonb            NOT NULL DEFAULT '{}',
    upload_id        uuid,
    created_at       timestamptz      NOT NULL DEFAULT now(),
    updated_at       timestamptz      NOT NULL DEFAULT now(),
    UNIQUE (dataset_id, sha256)
);
CREATE INDEX samples_dataset_status ON samples (dataset_id, status, created_at, id);
CREATE INDEX samples_source_path ON samples (dataset_id, (metadata ->> 'source_path'));

-- One current annotation per annotator and sample; agreement is computed across them.
CREATE TABLE annotations (
    sample_id  uuid             NOT NULL REFERENCES samples (id) ON DELETE CASCADE,
    org_id     uuid             NOT NULL,
    annotator  text             NOT NULL,
    labels     jsonb            NOT NULL,
    rating     double precision,
    created_at timestamptz      NOT NULL DEFAULT now(),
    PRIMARY KEY (sample_id, annotator)
);

CREATE TABLE reviews (
    id         bigserial PRIMARY KEY,
    sample_id  uuid        NOT NULL REFERENCES samples (id) ON DELETE CASCADE,
    org_id     uuid        NOT NULL,
    reviewer   text        NOT NULL,
    decision   text        NOT NULL,
    reason     text,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX reviews_sample ON reviews (sample_id, created_at);

CREATE TABLE versions (
    dataset_id      uuid             NOT NULL REFERENCES datasets (id),
    version         integer          NOT NULL,
    org_id          uuid             NOT NULL,
    manifest_sha256 text             NOT NULL,
    manifest_key    text             NOT NULL,
    include         text             NOT NULL,
    val_fraction    double precision NOT NULL,
    seed            integer          NOT NULL,
    sample_count    integer          NOT NULL,
    train_count     integer          NOT NULL,
    val_count       integer          NOT NULL,
    class_names     jsonb            NOT NULL,
    created_by      text             NOT NULL,
    created_at      timestamptz      NOT NULL DEFAULT now(),
    PRIMARY KEY (dataset_id, version),
    UNIQUE (dataset_id, manifest_sha256)
);
