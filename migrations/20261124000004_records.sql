-- Records: the fields real clients send (language, release rights, free-form metadata), media
-- facts computed from the stored bytes, the review outcome, and resumable (chunked) uploads.

ALTER TABLE record
    ADD COLUMN IF NOT EXISTS language varchar(50),
    ADD COLUMN IF NOT EXISTS release_rights varchar(50),
    ADD COLUMN IF NOT EXISTS metadata jsonb,
    ADD COLUMN IF NOT EXISTS content_sha256 char(64),
    ADD COLUMN IF NOT EXISTS mime_type varchar(100),
    ADD COLUMN IF NOT EXISTS review_status varchar(20),
    ADD COLUMN IF NOT EXISTS review_note varchar(1000);

ALTER TABLE record ADD CONSTRAINT record_review_status_valid
    CHECK (review_status IS NULL OR review_status IN ('approved', 'rejected')) NOT VALID;

-- Newest-first listing with a keyset cursor, overall and per contributor.
CREATE INDEX IF NOT EXISTS record_created_desc_idx ON record (created_at DESC, uid DESC);
CREATE INDEX IF NOT EXISTS record_user_created_idx ON record (user_id, created_at DESC, uid DESC);
-- The review queue: unreviewed records, oldest first.
CREATE INDEX IF NOT EXISTS record_unreviewed_idx ON record (created_at, uid) WHERE NOT reviewed;
-- Exact duplicates are found by content hash.
CREATE INDEX IF NOT EXISTS record_content_sha256_idx ON record (content_sha256) WHERE content_sha256 IS NOT NULL;

-- A reviewer's short lease on a queued record, so two reviewers never get the same one. Kept out
-- of `record` so that claiming does not touch the record's updated_at.
CREATE TABLE IF NOT EXISTS review_claim (
    record_uid uuid CONSTRAINT review_claim_pkey PRIMARY KEY
        CONSTRAINT review_claim_record_uid_fkey REFERENCES record (uid) ON DELETE CASCADE,
    reviewer_id uuid NOT NULL CONSTRAINT review_claim_reviewer_id_fkey REFERENCES "user" (id) ON DELETE CASCADE,
    expires_at timestamptz NOT NULL
);

-- A resumable upload: chunks arrive in any order (re-sends allowed) and are kept in object
-- storage under `uploads/<upload_uuid>/<chunk_index>` until the client finalises.
CREATE TABLE IF NOT EXISTS upload_session (
    upload_uuid uuid CONSTRAINT upload_session_pkey PRIMARY KEY,
    user_id uuid NOT NULL CONSTRAINT upload_session_user_id_fkey REFERENCES "user" (id) ON DELETE CASCADE,
    filename varchar(255) NOT NULL,
    total_chunks integer NOT NULL CONSTRAINT upload_session_total_chunks_range CHECK (total_chunks BETWEEN 1 AND 100000),
    -- Set while one request assembles the chunks; a stale value (crashed process) can be taken over.
    finalising_since timestamptz,
    -- The record the upload became: a re-sent finalise answers with it.
    record_uid uuid CONSTRAINT upload_session_record_uid_fkey REFERENCES record (uid) ON DELETE SET NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS upload_session_updated_at_idx ON upload_session (updated_at);

CREATE TABLE IF NOT EXISTS upload_chunk (
    upload_uuid uuid NOT NULL CONSTRAINT upload_chunk_upload_uuid_fkey REFERENCES upload_session (upload_uuid) ON DELETE CASCADE,
    chunk_index integer NOT NULL CONSTRAINT upload_chunk_index_not_negative CHECK (chunk_index >= 0),
    size bigint NOT NULL,
    sha256 char(64) NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT upload_chunk_pkey PRIMARY KEY (upload_uuid, chunk_index)
);
