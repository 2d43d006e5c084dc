-- Browser sessions of the web console (`/console`). The cookie holds a random id; only its
-- SHA-256 is stored, so a copy of this table cannot be replayed as cookies. Each session has its
-- own CSRF token, sent back with every form.
CREATE TABLE console_session (
    id_hash     text PRIMARY KEY,
    user_id     uuid NOT NULL REFERENCES "user" (id) ON DELETE CASCADE,
    csrf_token  text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL
);

CREATE INDEX ix_console_session_user_id ON console_session (user_id);
CREATE INDEX ix_console_session_expires_at ON console_session (expires_at);

-- A password change, reset or deactivation moves `tokens_valid_after` (or clears `is_active`):
-- whichever path made it (API, OTP reset, operations command), the user's console sessions end
-- with it.
CREATE FUNCTION end_console_sessions() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.tokens_valid_after IS DISTINCT FROM OLD.tokens_valid_after
       OR (OLD.is_active AND NOT NEW.is_active) THEN
        DELETE FROM console_session WHERE user_id = NEW.id;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER user_console_sessions_end
    AFTER UPDATE OF is_active, tokens_valid_after, hashed_password ON "user"
    FOR EACH ROW EXECUTE FUNCTION end_console_sessions();
