-- Exact re-submissions: `duplicate_of` names the first earlier record with the same bytes
-- (SHA-256). Kept by a trigger on every write of `content_sha256`, so every path that stores a
-- file (direct, chunked, generated) gets it, and reads cost nothing.
ALTER TABLE record ADD COLUMN duplicate_of uuid
    CONSTRAINT record_duplicate_of_fkey REFERENCES record (uid) ON DELETE SET NULL;

CREATE OR REPLACE FUNCTION record_set_duplicate_of() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.content_sha256 IS NULL THEN
        NEW.duplicate_of := NULL;
    ELSE
        NEW.duplicate_of := (
            SELECT d.uid FROM record d
            WHERE d.content_sha256 = NEW.content_sha256 AND d.uid <> NEW.uid
              AND (d.created_at, d.uid) < (NEW.created_at, NEW.uid)
            ORDER BY d.created_at, d.uid LIMIT 1);
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER record_set_duplicate_of BEFORE INSERT OR UPDATE OF content_sha256 ON record
    FOR EACH ROW EXECUTE FUNCTION record_set_duplicate_of();

-- Rows stored before this migration (their updated_at is left alone).
ALTER TABLE record DISABLE TRIGGER record_set_updated_at;
UPDATE record r SET duplicate_of = (
    SELECT d.uid FROM record d
    WHERE d.content_sha256 = r.content_sha256 AND (d.created_at, d.uid) < (r.created_at, r.uid)
    ORDER BY d.created_at, d.uid LIMIT 1)
WHERE r.content_sha256 IS NOT NULL;
ALTER TABLE record ENABLE TRIGGER record_set_updated_at;
