-- One trigger function for every table whose writes are announced per statement: it sends the
-- trigger's first argument as the channel and its second as the payload. The three functions it
-- replaces (records, categories, roles) differed only in those two strings.
CREATE FUNCTION notify_statement() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify(TG_ARGV[0], TG_ARGV[1]);
    RETURN NULL;
END
$$;

DROP TRIGGER record_changed ON record;
CREATE TRIGGER record_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON record
    FOR EACH STATEMENT EXECUTE FUNCTION notify_statement('corpus_records', '');
DROP FUNCTION notify_records_changed();

DROP TRIGGER category_changed ON category;
CREATE TRIGGER category_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON category
    FOR EACH STATEMENT EXECUTE FUNCTION notify_statement('corpus_categories', '');
DROP FUNCTION notify_categories_changed();

DROP TRIGGER role_identity_changed ON role;
CREATE TRIGGER role_identity_changed
    AFTER UPDATE OR DELETE ON role
    FOR EACH STATEMENT EXECUTE FUNCTION notify_statement('corpus_identity', '*');
DROP FUNCTION notify_roles_changed();
