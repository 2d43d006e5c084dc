-- Resumable uploads, hardened: finalisation runs under a PostgreSQL advisory lock (which dies
-- with its connection) instead of the `finalising_since` timestamp, which is no longer written
-- and can be dropped in a later release.

-- The object a finalise is about to store, noted before it stores it: if that finalise dies
-- before its transaction commits, the next finalise (or the sweep) removes the object.
ALTER TABLE upload_session ADD COLUMN IF NOT EXISTS finalise_object_key text;

-- The per-user caps on unfinished uploads count a user's open sessions and their bytes.
CREATE INDEX IF NOT EXISTS upload_session_open_by_user_idx ON upload_session (user_id) WHERE record_uid IS NULL;
