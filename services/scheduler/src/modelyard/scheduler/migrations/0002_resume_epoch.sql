-- The epoch of the checkpoint the current attempt resumed from: epochs up to it belong to the job's history,
-- whichever attempt reports them (an earlier attempt's report may arrive after the takeover).
ALTER TABLE jobs ADD COLUMN resume_epoch integer NOT NULL DEFAULT 0;
