-- The category lists are held in memory (`cache::categories`): announce every statement that
-- writes `category`, whoever runs it, so every process forgets them at once.
CREATE FUNCTION notify_categories_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('corpus_categories', '');
    RETURN NULL;
END
$$;

CREATE TRIGGER category_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON category
    FOR EACH STATEMENT EXECUTE FUNCTION notify_categories_changed();
