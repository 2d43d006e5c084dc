-- Background jobs: a queue in PostgreSQL, so a job can be enqueued in the same transaction as the
-- write that needs it (it exists only if that write committed). Workers claim rows with
-- FOR UPDATE SKIP LOCKED and hold a lease (locked_until) they renew while they run; a row whose
-- lease ran out belongs to a worker that died and is made runnable again. Cancelling sets REVOKED
-- at once; a running job's worker sees that at its next heartbeat and stops the job.
CREATE TABLE jobs (
    id            uuid PRIMARY KEY,
    kind          text NOT NULL,
    args          jsonb NOT NULL DEFAULT '{}'::jsonb,
    -- The user who asked for it (tasks API); null for periodic and operator jobs.
    owner         uuid REFERENCES "user"(id) ON DELETE SET NULL,
    state         text NOT NULL DEFAULT 'PENDING'
                  CHECK (state IN ('PENDING', 'STARTED', 'PROGRESS', 'SUCCESS', 'FAILURE', 'REVOKED')),
    -- {"current": n, "total": n, "status": "..."} while it runs.
    progress      jsonb,
    result        jsonb,
    error         text,
    attempts      integer NOT NULL DEFAULT 0,
    max_attempts  integer NOT NULL DEFAULT 3 CHECK (max_attempts >= 1),
    -- Not claimed before this instant (enqueue time, or the next retry after a backoff).
    run_at        timestamptz NOT NULL DEFAULT now(),
    created_at    timestamptz NOT NULL DEFAULT now(),
    started_at    timestamptz,
    heartbeat_at  timestamptz,
    -- The running worker's lease; past it, the job is claimed again.
    locked_until  timestamptz,
    -- Which worker runs (or last ran) it.
    worker        text,
    finished_at   timestamptz,
    -- A finished job's row (and result) is purged after this.
    expires_at    timestamptz
);

-- What workers scan: runnable rows in run order.
CREATE INDEX jobs_runnable ON jobs (run_at) WHERE state = 'PENDING';
-- Running rows whose lease may have run out.
CREATE INDEX jobs_running ON jobs (locked_until) WHERE state IN ('STARTED', 'PROGRESS');
CREATE INDEX jobs_owner ON jobs (owner, created_at DESC);
CREATE INDEX jobs_expires ON jobs (expires_at) WHERE expires_at IS NOT NULL;

-- One row per periodic job and period slot: the unique key lets any number of schedulers try to
-- start a period's run while exactly one succeeds; slots missed while no scheduler ran are caught
-- up once (the latest), not once per missed slot.
CREATE TABLE periodic_runs (
    kind        text NOT NULL,
    slot        bigint NOT NULL,
    job_id      uuid NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (kind, slot)
);

-- Workers LISTEN on `corpus_jobs` and pick a new job up at once (they also poll, should a
-- notification be lost).
CREATE FUNCTION notify_job_enqueued() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('corpus_jobs', NEW.kind);
    RETURN NULL;
END
$$;

CREATE TRIGGER jobs_enqueued
    AFTER INSERT OR UPDATE OF run_at, state ON jobs
    FOR EACH ROW WHEN (NEW.state = 'PENDING')
    EXECUTE FUNCTION notify_job_enqueued();
