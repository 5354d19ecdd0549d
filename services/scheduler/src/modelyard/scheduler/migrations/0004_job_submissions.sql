-- Jobs submitted per organisation and month, for the plan's "jobs per month": a count of submissions, not of the
-- jobs still stored, so deleting finished jobs gives no quota back.
CREATE TABLE job_submissions (
    org_id    uuid    NOT NULL,
    month     date    NOT NULL,
    submitted integer NOT NULL,
    PRIMARY KEY (org_id, month)
);

INSERT INTO job_submissions (org_id, month, submitted)
SELECT org_id, date_trunc('month', created_at)::date, count(*) FROM jobs GROUP BY 1, 2;
