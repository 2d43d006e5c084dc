-- A duration the file's bytes cannot hold (a 400-byte M4A whose header claims 2e9 seconds) is
-- stored as unknown (NULL) and the record is flagged here, so reviewers and the backfill job can
-- find it; statistics sum duration_seconds and so never count it.
ALTER TABLE record ADD COLUMN duration_implausible boolean NOT NULL DEFAULT false;

-- Durations kept from before (the original trusted every header) that no codec could fit in the
-- stored bytes: below 64 bits per second is below any real audio or video codec.
ALTER TABLE record DISABLE TRIGGER record_set_updated_at;
UPDATE record SET duration_implausible = true, duration_seconds = NULL
WHERE duration_seconds > 0 AND file_size IS NOT NULL AND file_size::float8 * 8 / duration_seconds < 64;
ALTER TABLE record ENABLE TRIGGER record_set_updated_at;
