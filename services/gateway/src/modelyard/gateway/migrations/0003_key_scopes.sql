-- API keys get a name, optional scopes (a subset of the user's permissions; NULL: all of them) and an optional
-- expiry. A revoked or expired key authenticates nothing.
ALTER TABLE api_keys
    ADD COLUMN name       text NOT NULL DEFAULT '',
    ADD COLUMN scopes     text[],
    ADD COLUMN expires_at timestamptz;
