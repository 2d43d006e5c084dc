-- One-time codes: what a code is for, and a distinct "superseded" state.
--
-- The original "invalidated" older codes by marking them verified, before the new SMS was even
-- sent. Codes now carry their purpose (login, signup, reset), so a code asked for one flow cannot
-- be spent on another, and a newer code supersedes older ones only once it has gone out.
-- Rows carried over from the original are login codes.
ALTER TABLE otp ADD COLUMN IF NOT EXISTS purpose varchar(20) NOT NULL DEFAULT 'login';
ALTER TABLE otp ADD COLUMN IF NOT EXISTS invalidated_at timestamptz;
CREATE INDEX IF NOT EXISTS otp_phone_purpose_created_idx ON otp (phone_number, purpose, created_at DESC);
CREATE INDEX IF NOT EXISTS otp_created_at_idx ON otp (created_at);
