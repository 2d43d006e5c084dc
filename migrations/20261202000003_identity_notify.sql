-- Every change to what authenticates a request (active flag, token revocation, phone, name, role
-- links) is announced on the `corpus_identity` channel with the user's id, so each API process can
-- drop its in-memory copy of that identity, whichever process or tool made the change.
CREATE FUNCTION notify_identity_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'user' THEN
        PERFORM pg_notify('corpus_identity', OLD.id::text);
    ELSIF TG_OP = 'INSERT' THEN
        PERFORM pg_notify('corpus_identity', NEW.user_id::text);
    ELSE
        PERFORM pg_notify('corpus_identity', OLD.user_id::text);
        IF TG_OP = 'UPDATE' AND NEW.user_id IS DISTINCT FROM OLD.user_id THEN
            PERFORM pg_notify('corpus_identity', NEW.user_id::text);
        END IF;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER user_identity_changed
    AFTER UPDATE OF is_active, tokens_valid_after, phone, name OR DELETE ON "user"
    FOR EACH ROW EXECUTE FUNCTION notify_identity_changed();

CREATE TRIGGER user_roles_identity_changed
    AFTER INSERT OR UPDATE OR DELETE ON user_roles
    FOR EACH ROW EXECUTE FUNCTION notify_identity_changed();
