-- The version a job's trained model registers as, when the request names one (else the registry picks the next minor).
ALTER TABLE jobs ADD COLUMN model_version text;
