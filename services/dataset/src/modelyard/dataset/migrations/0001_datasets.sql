CREATE TABLE datasets (
    id             uuid PRIMARY KEY,
    org_id         uuid        NOT NULL,
    name           text        NOT NULL,
    description    text,
    ai_module      text,
    task           text        NOT NULL,
    environment    text        NOT NULL DEFAULT 'dev',
    status         text        NOT NULL DEFAULT 'draft',
    class_names    jsonb       NOT NULL DEFAULT '[]',
    sample_count   integer     NOT NULL DEFAULT 0,
    labeled_count  integer     NOT NULL DEFAULT 0,
    verified_count integer     NOT NULL DEFAULT 0,
    created_by     text        NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);
-- A name is unique among an organisation's datasets that are not archived.
CREATE UNIQUE INDEX datasets_org_name ON datasets (org_id, lower(name)) WHERE status <> 'archived';
CREATE INDEX datasets_org_created ON datasets (org_id, created_at DESC);
