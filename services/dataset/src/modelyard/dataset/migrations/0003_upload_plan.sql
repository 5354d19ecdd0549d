-- The plan of whoever created (and then finalized) the upload: the importer checks the dataset-size limit of that
-- plan against the real sizes. NULL for uploads from before this column: the importer does not check those.
ALTER TABLE uploads ADD COLUMN plan text;
