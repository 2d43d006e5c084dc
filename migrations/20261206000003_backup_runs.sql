-- Every backup the service takes (`corpus db backup`, by hand or on schedule): when, where, how
-- big and how it ended, so `db status` and `/metrics` can tell how old the last good backup is.
-- A backup records itself before its snapshot, so a restored database holds its own row
-- unfinished; only finished, successful rows count as backups.
CREATE TABLE backup_run (
    id uuid CONSTRAINT backup_run_pkey PRIMARY KEY DEFAULT gen_random_uuid(),
    started_at timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    location text NOT NULL,
    scheduled boolean NOT NULL DEFAULT false,
    succeeded boolean,
    bytes bigint,
    objects integer,
    error text
);

CREATE INDEX backup_run_last_success ON backup_run (finished_at DESC) WHERE succeeded;
