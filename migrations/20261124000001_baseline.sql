-- Baseline schema of corpus-te.
--
-- Runs on an empty database AND on a database made by the original service's alembic chain at any
-- revision up to its head (118966d219d7). It works in two stages, so that every database goes
-- through the same path:
--   Stage 1 brings whatever is there to the original's head schema (upstream-api.md §2), creating
--           what is missing and replaying the original's column changes without losing a row.
--   Stage 2 converts that head schema to ours: timestamptz, bigint file_size, an object-key
--           column, defaults, named constraints, maintained updated_at.
-- Never edit this file once released; add a new migration instead.

SET LOCAL timezone = 'UTC';

CREATE EXTENSION IF NOT EXISTS postgis;

-- ---------------------------------------------------------------------------------------------
-- Stage 1: the original's head schema
-- ---------------------------------------------------------------------------------------------

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_type WHERE typname = 'roleenum') THEN
        CREATE TYPE roleenum AS ENUM ('admin', 'user', 'reviewer');
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_type WHERE typname = 'mediatype') THEN
        CREATE TYPE mediatype AS ENUM ('text', 'audio', 'video', 'image');
    END IF;
END $$;

CREATE TABLE IF NOT EXISTS role (
    id serial CONSTRAINT role_pkey PRIMARY KEY,
    name roleenum NOT NULL,
    description varchar(255)
);
CREATE UNIQUE INDEX IF NOT EXISTS ix_role_name ON role (name);

CREATE TABLE IF NOT EXISTS category (
    id uuid CONSTRAINT category_pkey PRIMARY KEY,
    name varchar(100) NOT NULL,
    title varchar(200) NOT NULL,
    description varchar,
    published boolean NOT NULL,
    rank integer NOT NULL,
    created_at timestamp,
    updated_at timestamp
);
CREATE UNIQUE INDEX IF NOT EXISTS ix_category_name ON category (name);

CREATE TABLE IF NOT EXISTS "user" (
    id uuid CONSTRAINT user_pkey PRIMARY KEY,
    phone varchar(20) NOT NULL,
    name varchar(100) NOT NULL,
    email varchar(100),
    gender varchar(20),
    date_of_birth date,
    place varchar(100),
    profile_picture_path varchar(255),
    hashed_password varchar(255),
    is_active boolean NOT NULL,
    last_login_at timestamp,
    created_at timestamp,
    updated_at timestamp
);
CREATE UNIQUE INDEX IF NOT EXISTS ix_user_phone ON "user" (phone);
CREATE UNIQUE INDEX IF NOT EXISTS ix_user_email ON "user" (email);
-- aafaf157ff08: consent
ALTER TABLE "user" ADD COLUMN IF NOT EXISTS has_given_consent boolean NOT NULL DEFAULT false;
ALTER TABLE "user" ADD COLUMN IF NOT EXISTS consent_given_at timestamp;

CREATE TABLE IF NOT EXISTS user_roles (
    user_id uuid NOT NULL CONSTRAINT user_roles_user_id_fkey REFERENCES "user" (id),
    role_id integer NOT NULL CONSTRAINT user_roles_role_id_fkey REFERENCES role (id),
    CONSTRAINT user_roles_pkey PRIMARY KEY (user_id, role_id)
);

CREATE TABLE IF NOT EXISTS record (
    uid uuid CONSTRAINT record_pkey PRIMARY KEY,
    user_id uuid NOT NULL CONSTRAINT record_user_id_fkey REFERENCES "user" (id),
    category_id uuid NOT NULL CONSTRAINT record_category_id_fkey REFERENCES category (id),
    status varchar NOT NULL,
    reviewed boolean NOT NULL,
    reviewed_by uuid CONSTRAINT record_reviewed_by_fkey REFERENCES "user" (id),
    reviewed_at timestamp,
    created_at timestamp,
    updated_at timestamp
);

-- 58cec5cbaa6d: title, description, media_type, file_* replace `type` and `storage_path`.
-- Rows written before it get a title from their stored file name and a media type from `type`.
ALTER TABLE record ADD COLUMN IF NOT EXISTS title varchar(200);
ALTER TABLE record ADD COLUMN IF NOT EXISTS description varchar(1000);
ALTER TABLE record ADD COLUMN IF NOT EXISTS media_type mediatype;
ALTER TABLE record ADD COLUMN IF NOT EXISTS file_url varchar(500);
ALTER TABLE record ADD COLUMN IF NOT EXISTS file_name varchar(255);
ALTER TABLE record ADD COLUMN IF NOT EXISTS file_size integer;
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM information_schema.columns
               WHERE table_schema = 'public' AND table_name = 'record' AND column_name = 'storage_path') THEN
        EXECUTE $q$
            UPDATE record SET
                file_url = COALESCE(file_url, left(storage_path::text, 500)),
                file_name = COALESCE(file_name, left(regexp_replace(storage_path::text, '^.*/', ''), 255))
            WHERE storage_path IS NOT NULL
        $q$;
        ALTER TABLE record DROP COLUMN storage_path;
    END IF;
    IF EXISTS (SELECT 1 FROM information_schema.columns
               WHERE table_schema = 'public' AND table_name = 'record' AND column_name = 'type') THEN
        EXECUTE $q$
            UPDATE record SET media_type = lower(type::text)::mediatype
            WHERE media_type IS NULL AND lower(type::text) IN ('text', 'audio', 'video', 'image')
        $q$;
        ALTER TABLE record DROP COLUMN type;
    END IF;
END $$;
UPDATE record SET title = COALESCE(NULLIF(file_name, ''), 'Untitled record') WHERE title IS NULL;
UPDATE record SET media_type = 'text' WHERE media_type IS NULL;
ALTER TABLE record ALTER COLUMN title SET NOT NULL;
ALTER TABLE record ALTER COLUMN media_type SET NOT NULL;
CREATE INDEX IF NOT EXISTS ix_record_media_type ON record (media_type);

-- 068a6f844edc: a PostGIS point replaces geo_lat / geo_lng.
ALTER TABLE record ADD COLUMN IF NOT EXISTS location geometry(Point, 4326);
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM information_schema.columns
               WHERE table_schema = 'public' AND table_name = 'record' AND column_name = 'geo_lat')
       AND EXISTS (SELECT 1 FROM information_schema.columns
               WHERE table_schema = 'public' AND table_name = 'record' AND column_name = 'geo_lng') THEN
        EXECUTE $q$
            UPDATE record SET location = ST_SetSRID(ST_MakePoint(geo_lng::float8, geo_lat::float8), 4326)
            WHERE location IS NULL AND geo_lat IS NOT NULL AND geo_lng IS NOT NULL
        $q$;
    END IF;
END $$;
ALTER TABLE record DROP COLUMN IF EXISTS geo_lat;
ALTER TABLE record DROP COLUMN IF EXISTS geo_lng;
CREATE INDEX IF NOT EXISTS idx_record_location ON record USING gist (location);

-- 118966d219d7: duration
ALTER TABLE record ADD COLUMN IF NOT EXISTS duration_seconds integer;

-- a3086f39bb0c: one-time codes
CREATE TABLE IF NOT EXISTS otp (
    phone_number varchar NOT NULL,
    otp_hash varchar NOT NULL,
    attempts integer NOT NULL,
    is_verified boolean NOT NULL,
    expires_at timestamp NOT NULL,
    reference_id varchar,
    id uuid CONSTRAINT otp_pkey PRIMARY KEY,
    created_at timestamp NOT NULL,
    updated_at timestamp NOT NULL
);
CREATE INDEX IF NOT EXISTS ix_otp_phone_number ON otp (phone_number);

-- The original's alembic bookkeeping is kept for the record, under a name that says what it is.
ALTER TABLE IF EXISTS alembic_version RENAME TO legacy_alembic_version;

-- ---------------------------------------------------------------------------------------------
-- Stage 2: from the original's head schema to ours
-- ---------------------------------------------------------------------------------------------

-- Timestamps: stored naive UTC by the original, timestamptz from now on.
ALTER TABLE category
    ALTER COLUMN created_at TYPE timestamptz USING created_at AT TIME ZONE 'UTC',
    ALTER COLUMN updated_at TYPE timestamptz USING updated_at AT TIME ZONE 'UTC';
ALTER TABLE "user"
    ALTER COLUMN last_login_at TYPE timestamptz USING last_login_at AT TIME ZONE 'UTC',
    ALTER COLUMN created_at TYPE timestamptz USING created_at AT TIME ZONE 'UTC',
    ALTER COLUMN updated_at TYPE timestamptz USING updated_at AT TIME ZONE 'UTC',
    ALTER COLUMN consent_given_at TYPE timestamptz USING consent_given_at AT TIME ZONE 'UTC';
ALTER TABLE record
    ALTER COLUMN reviewed_at TYPE timestamptz USING reviewed_at AT TIME ZONE 'UTC',
    ALTER COLUMN created_at TYPE timestamptz USING created_at AT TIME ZONE 'UTC',
    ALTER COLUMN updated_at TYPE timestamptz USING updated_at AT TIME ZONE 'UTC';
ALTER TABLE otp
    ALTER COLUMN expires_at TYPE timestamptz USING expires_at AT TIME ZONE 'UTC',
    ALTER COLUMN created_at TYPE timestamptz USING created_at AT TIME ZONE 'UTC',
    ALTER COLUMN updated_at TYPE timestamptz USING updated_at AT TIME ZONE 'UTC';

-- created_at / updated_at are always present from now on.
UPDATE category SET created_at = COALESCE(created_at, updated_at, now()), updated_at = COALESCE(updated_at, created_at, now())
    WHERE created_at IS NULL OR updated_at IS NULL;
UPDATE "user" SET created_at = COALESCE(created_at, updated_at, now()), updated_at = COALESCE(updated_at, created_at, now())
    WHERE created_at IS NULL OR updated_at IS NULL;
UPDATE record SET created_at = COALESCE(created_at, updated_at, now()), updated_at = COALESCE(updated_at, created_at, now())
    WHERE created_at IS NULL OR updated_at IS NULL;
ALTER TABLE category
    ALTER COLUMN id SET DEFAULT gen_random_uuid(),
    ALTER COLUMN published SET DEFAULT false,
    ALTER COLUMN rank SET DEFAULT 0,
    ALTER COLUMN created_at SET DEFAULT now(), ALTER COLUMN created_at SET NOT NULL,
    ALTER COLUMN updated_at SET DEFAULT now(), ALTER COLUMN updated_at SET NOT NULL;
ALTER TABLE "user"
    ALTER COLUMN id SET DEFAULT gen_random_uuid(),
    ALTER COLUMN is_active SET DEFAULT true,
    ALTER COLUMN created_at SET DEFAULT now(), ALTER COLUMN created_at SET NOT NULL,
    ALTER COLUMN updated_at SET DEFAULT now(), ALTER COLUMN updated_at SET NOT NULL;
ALTER TABLE record
    ALTER COLUMN uid SET DEFAULT gen_random_uuid(),
    ALTER COLUMN status SET DEFAULT 'pending',
    ALTER COLUMN reviewed SET DEFAULT false,
    ALTER COLUMN created_at SET DEFAULT now(), ALTER COLUMN created_at SET NOT NULL,
    ALTER COLUMN updated_at SET DEFAULT now(), ALTER COLUMN updated_at SET NOT NULL,
    -- 64-bit sizes: the original's int4 overflowed above 2 GiB.
    ALTER COLUMN file_size TYPE bigint;
ALTER TABLE otp
    ALTER COLUMN id SET DEFAULT gen_random_uuid(),
    ALTER COLUMN attempts SET DEFAULT 0,
    ALTER COLUMN is_verified SET DEFAULT false,
    ALTER COLUMN created_at SET DEFAULT now(),
    ALTER COLUMN updated_at SET DEFAULT now();

-- The storage key of a record's object, in its own column (the original re-derived it from
-- file_url, wrongly). Keys of the original's objects are `<media_type>/<name>` at the URL's end.
ALTER TABLE record ADD COLUMN object_key varchar(1024);
UPDATE record SET object_key = substring(file_url from '((?:text|audio|video|image)/[^/?#]+)$')
    WHERE file_url ~ '^https?://' AND object_key IS NULL;

-- Foreign keys: a user's role links go with the user; a reviewer's deletion keeps the review.
ALTER TABLE user_roles DROP CONSTRAINT IF EXISTS user_roles_user_id_fkey,
    ADD CONSTRAINT user_roles_user_id_fkey FOREIGN KEY (user_id) REFERENCES "user" (id) ON DELETE CASCADE;
ALTER TABLE record DROP CONSTRAINT IF EXISTS record_reviewed_by_fkey,
    ADD CONSTRAINT record_reviewed_by_fkey FOREIGN KEY (reviewed_by) REFERENCES "user" (id) ON DELETE SET NULL;
CREATE INDEX IF NOT EXISTS record_user_id_idx ON record (user_id);
CREATE INDEX IF NOT EXISTS record_category_id_idx ON record (category_id);
CREATE INDEX IF NOT EXISTS record_created_at_uid_idx ON record (created_at, uid);
CREATE INDEX IF NOT EXISTS user_roles_role_id_idx ON user_roles (role_id);
-- Spatial search is in metres, on geography.
CREATE INDEX IF NOT EXISTS record_location_geography_idx ON record USING gist ((location::geography));

-- Rules the original enforced only in its response models, so bad rows got in and broke every
-- list containing them. NOT VALID: new writes are checked; rows already there are kept as they are.
ALTER TABLE "user" ADD CONSTRAINT user_name_not_blank CHECK (btrim(name) <> '') NOT VALID;
ALTER TABLE "user" ADD CONSTRAINT user_phone_not_blank CHECK (btrim(phone) <> '') NOT VALID;
ALTER TABLE category ADD CONSTRAINT category_name_not_blank CHECK (btrim(name) <> '') NOT VALID;
ALTER TABLE category ADD CONSTRAINT category_title_not_blank CHECK (btrim(title) <> '') NOT VALID;
ALTER TABLE category ADD CONSTRAINT category_description_length CHECK (char_length(description) <= 500) NOT VALID;
ALTER TABLE record ADD CONSTRAINT record_title_not_blank CHECK (btrim(title) <> '') NOT VALID;
ALTER TABLE record ADD CONSTRAINT record_status_length CHECK (char_length(status) <= 20) NOT VALID;
ALTER TABLE record ADD CONSTRAINT record_file_size_not_negative CHECK (file_size >= 0) NOT VALID;
ALTER TABLE record ADD CONSTRAINT record_location_in_range CHECK (
    location IS NULL OR (ST_X(location) BETWEEN -180 AND 180 AND ST_Y(location) BETWEEN -90 AND 90)
) NOT VALID;

-- updated_at is maintained by the database on every update, unless the statement sets it itself.
CREATE OR REPLACE FUNCTION set_updated_at() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.updated_at IS NOT DISTINCT FROM OLD.updated_at THEN
        NEW.updated_at := now();
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER category_set_updated_at BEFORE UPDATE ON category FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER user_set_updated_at BEFORE UPDATE ON "user" FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER record_set_updated_at BEFORE UPDATE ON record FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER otp_set_updated_at BEFORE UPDATE ON otp FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- The original's three roles (its migration 8133bfd89d7c); `db init` also re-ensures them.
INSERT INTO role (id, name, description) VALUES
    (1, 'admin', 'Administrator role with full access'),
    (2, 'user', 'Standard user role with basic access'),
    (3, 'reviewer', 'Reviewer role with record review permissions')
ON CONFLICT DO NOTHING;
SELECT setval('role_id_seq', GREATEST((SELECT max(id) FROM role), 1));
