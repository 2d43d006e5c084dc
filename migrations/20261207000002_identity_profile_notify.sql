-- `/auth/me` answers from the in-memory identity, which now holds the whole profile: announce every
-- change to a user row (not only the columns that authenticate), and every change to a role's
-- name or description, which all its holders show (payload `*`: every process forgets everyone).
DROP TRIGGER user_identity_changed ON "user";
CREATE TRIGGER user_identity_changed
    AFTER UPDATE OR DELETE ON "user"
    FOR EACH ROW EXECUTE FUNCTION notify_identity_changed();

CREATE FUNCTION notify_roles_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('corpus_identity', '*');
    RETURN NULL;
END
$$;

CREATE TRIGGER role_identity_changed
    AFTER UPDATE OR DELETE ON role
    FOR EACH STATEMENT EXECUTE FUNCTION notify_roles_changed();
