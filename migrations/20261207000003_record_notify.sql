-- Pages of the records list are held in memory (`cache::record_pages`): announce every statement
-- that writes `record`, whoever runs it (a replica, the worker, the CLI, plain SQL), so every
-- process forgets its pages at once. Once per statement, and PostgreSQL folds identical
-- notifications of one transaction into one, so a bulk load sends a single notification.
CREATE FUNCTION notify_records_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('corpus_records', '');
    RETURN NULL;
END
$$;

CREATE TRIGGER record_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON record
    FOR EACH STATEMENT EXECUTE FUNCTION notify_records_changed();
