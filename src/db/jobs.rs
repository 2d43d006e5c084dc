//! The background job queue: rows of `jobs`, and the period slots of `periodic_runs`.
//!
//! A job is enqueued with any executor, so inside the caller's transaction it exists only if that
//! transaction commits. Workers claim runnable rows with `FOR UPDATE SKIP LOCKED` and hold a
//! lease (`locked_until`) they renew; every later write of a running job is fenced by the worker
//! name and attempt number that claimed it, so a worker whose lease ran out (and whose job another
//! worker took over) can no longer change the row.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use sqlx::PgExecutor;
use uuid::Uuid;

/// The job kinds whose results are files under `exports/<job id>/`: served by the download
/// endpoint and held (never orphans) while their job row exists.
pub const EXPORT_KINDS: [&str; 2] = ["export_user_data", "export_dataset"];

/// Job states, as stored and as the tasks API shows them (Celery's names).
pub mod state {
    /// Waiting to run (or to be retried).
    pub const PENDING: &str = "PENDING";
    /// Claimed by a worker.
    pub const STARTED: &str = "STARTED";
    /// Running and reporting progress.
    pub const PROGRESS: &str = "PROGRESS";
    /// Finished with a result.
    pub const SUCCESS: &str = "SUCCESS";
    /// Failed its last attempt.
    pub const FAILURE: &str = "FAILURE";
    /// Cancelled.
    pub const REVOKED: &str = "REVOKED";
}

/// One row of `jobs`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct JobRow {
    /// Job id (the tasks API's `task_id`).
    pub id: Uuid,
    /// Registered kind (`export_user_data`, `cleanup`, ...).
    pub kind: String,
    /// Arguments.
    pub args: Value,
    /// The user who asked for it.
    pub owner: Option<Uuid>,
    /// One of [`state`].
    pub state: String,
    /// `{current, total, status}` while running.
    pub progress: Option<Value>,
    /// The result of a successful run.
    pub result: Option<Value>,
    /// The last failure's message.
    pub error: Option<String>,
    /// Attempts started so far.
    pub attempts: i32,
    /// Attempts allowed.
    pub max_attempts: i32,
    /// Not run before this.
    pub run_at: DateTime<Utc>,
    /// When it was enqueued.
    pub created_at: DateTime<Utc>,
    /// When its latest attempt started.
    pub started_at: Option<DateTime<Utc>>,
    /// The running worker's last sign of life.
    pub heartbeat_at: Option<DateTime<Utc>>,
    /// The running worker's lease.
    pub locked_until: Option<DateTime<Utc>>,
    /// The worker running (or that last ran) it.
    pub worker: Option<String>,
    /// When it ended (success, failure or cancellation).
    pub finished_at: Option<DateTime<Utc>>,
    /// When the finished row is purged.
    pub expires_at: Option<DateTime<Utc>>,
}

/// A job to enqueue.
#[derive(Debug, Clone)]
pub struct NewJob<'a> {
    /// Registered kind.
    pub kind: &'a str,
    /// Arguments.
    pub args: Value,
    /// The user asking, if any.
    pub owner: Option<Uuid>,
    /// Attempts allowed (at least 1).
    pub max_attempts: i32,
}

/// Proof that a worker holds a job: its name and the attempt it claimed.
#[derive(Debug, Clone)]
pub struct Claim {
    /// The job.
    pub id: Uuid,
    /// The claiming worker's name.
    pub worker: String,
    /// The attempt number it claimed.
    pub attempt: i32,
}

/// Enqueues a job (inside the caller's transaction when given one) and returns its id.
#[tracing::instrument(skip_all, fields(kind = job.kind))]
pub async fn enqueue(db: impl PgExecutor<'_>, job: &NewJob<'_>) -> sqlx::Result<Uuid> {
    enqueue_with_id(db, Uuid::new_v4(), job).await
}

/// Enqueues a job under a chosen id.
#[tracing::instrument(skip_all, fields(kind = job.kind))]
pub async fn enqueue_with_id(db: impl PgExecutor<'_>, id: Uuid, job: &NewJob<'_>) -> sqlx::Result<Uuid> {
    sqlx::query_scalar!(
        "INSERT INTO jobs (id, kind, args, owner, max_attempts) VALUES ($1, $2, $3, $4, $5) RETURNING id",
        id,
        job.kind,
        job.args,
        job.owner,
        job.max_attempts.max(1)
    )
    .fetch_one(db)
    .await
}

/// Claims the oldest runnable job of one of `kinds` for `worker`, holding it for `lease_seconds`.
#[tracing::instrument(skip_all)]
pub async fn claim(
    db: impl PgExecutor<'_>,
    worker: &str,
    kinds: &[String],
    lease_seconds: f64,
) -> sqlx::Result<Option<JobRow>> {
    Ok(claim_many(db, worker, kinds, lease_seconds, 1).await?.pop())
}

/// Claims up to `limit` of the oldest runnable jobs of `kinds` for `worker` in one statement
/// (a worker with several free slots fills them in one round trip).
#[tracing::instrument(skip_all)]
pub async fn claim_many(
    db: impl PgExecutor<'_>,
    worker: &str,
    kinds: &[String],
    lease_seconds: f64,
    limit: i64,
) -> sqlx::Result<Vec<JobRow>> {
    sqlx::query_as!(
        JobRow,
        r#"UPDATE jobs SET state = 'STARTED', attempts = attempts + 1, started_at = now(), heartbeat_at = now(),
                  locked_until = now() + make_interval(secs => $3), worker = $1, progress = NULL
           WHERE id IN (SELECT id FROM jobs WHERE state = 'PENDING' AND run_at <= now() AND kind = ANY($2)
                        ORDER BY run_at LIMIT $4 FOR UPDATE SKIP LOCKED)
           RETURNING id, kind, args, owner, state, progress, result, error, attempts, max_attempts, run_at,
                     created_at, started_at, heartbeat_at, locked_until, worker, finished_at, expires_at"#,
        worker,
        kinds,
        lease_seconds,
        limit.max(1)
    )
    .fetch_all(db)
    .await
}

/// Renews the lease of a running job; false when the job is no longer this worker's to run
/// (cancelled, or taken over after its lease ran out).
#[tracing::instrument(skip_all)]
pub async fn heartbeat(db: impl PgExecutor<'_>, claim: &Claim, lease_seconds: f64) -> sqlx::Result<bool> {
    let done = sqlx::query!(
        "UPDATE jobs SET heartbeat_at = now(), locked_until = now() + make_interval(secs => $4)
         WHERE id = $1 AND worker = $2 AND attempts = $3 AND state IN ('STARTED', 'PROGRESS')",
        claim.id,
        claim.worker,
        claim.attempt,
        lease_seconds
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Records progress (`{current, total, status}`) of a running job; false when it is no longer
/// this worker's.
#[tracing::instrument(skip_all)]
pub async fn set_progress(db: impl PgExecutor<'_>, claim: &Claim, progress: &Value) -> sqlx::Result<bool> {
    let done = sqlx::query!(
        "UPDATE jobs SET state = 'PROGRESS', progress = $4, heartbeat_at = now()
         WHERE id = $1 AND worker = $2 AND attempts = $3 AND state IN ('STARTED', 'PROGRESS')",
        claim.id,
        claim.worker,
        claim.attempt,
        progress
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Ends a running job with its result, kept `retention_seconds`; false when it was no longer
/// this worker's.
#[tracing::instrument(skip_all)]
pub async fn succeed(
    db: impl PgExecutor<'_>,
    claim: &Claim,
    result: &Value,
    retention_seconds: f64,
) -> sqlx::Result<bool> {
    let done = sqlx::query!(
        "UPDATE jobs SET state = 'SUCCESS', result = $4, error = NULL, finished_at = now(), locked_until = NULL,
                         expires_at = now() + make_interval(secs => $5)
         WHERE id = $1 AND worker = $2 AND attempts = $3 AND state IN ('STARTED', 'PROGRESS')",
        claim.id,
        claim.worker,
        claim.attempt,
        result,
        retention_seconds
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Records a failed attempt: the job runs again after `backoff_seconds` while attempts remain,
/// otherwise it ends in `FAILURE` (kept `retention_seconds`). Returns the new state, or `None`
/// when the job was no longer this worker's.
#[tracing::instrument(skip_all)]
pub async fn fail(
    db: impl PgExecutor<'_>,
    claim: &Claim,
    error: &str,
    backoff_seconds: f64,
    retention_seconds: f64,
) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar!(
        "UPDATE jobs SET error = $4, locked_until = NULL,
                state = CASE WHEN attempts < max_attempts THEN 'PENDING' ELSE 'FAILURE' END,
                run_at = CASE WHEN attempts < max_attempts THEN now() + make_interval(secs => $5) ELSE run_at END,
                finished_at = CASE WHEN attempts < max_attempts THEN NULL ELSE now() END,
                expires_at = CASE WHEN attempts < max_attempts THEN NULL ELSE now() + make_interval(secs => $6) END
         WHERE id = $1 AND worker = $2 AND attempts = $3 AND state IN ('STARTED', 'PROGRESS')
         RETURNING state",
        claim.id,
        claim.worker,
        claim.attempt,
        error,
        backoff_seconds,
        retention_seconds
    )
    .fetch_optional(db)
    .await
}

/// Gives a running job back without counting the attempt (a worker shutting down); it is
/// claimable at once.
#[tracing::instrument(skip_all)]
pub async fn release(db: impl PgExecutor<'_>, claim: &Claim) -> sqlx::Result<bool> {
    let done = sqlx::query!(
        "UPDATE jobs SET state = 'PENDING', attempts = attempts - 1, locked_until = NULL, run_at = now(),
                         progress = NULL
         WHERE id = $1 AND worker = $2 AND attempts = $3 AND state IN ('STARTED', 'PROGRESS')",
        claim.id,
        claim.worker,
        claim.attempt
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Makes the jobs whose worker died (lease expired) runnable again, or ends them in `FAILURE`
/// when that was their last attempt. Returns how many were reclaimed.
#[tracing::instrument(skip_all)]
pub async fn reclaim_expired(db: impl PgExecutor<'_>, retention_seconds: f64) -> sqlx::Result<u64> {
    let done = sqlx::query!(
        "UPDATE jobs SET locked_until = NULL,
                error = 'the worker running it stopped (lease expired)',
                state = CASE WHEN attempts < max_attempts THEN 'PENDING' ELSE 'FAILURE' END,
                run_at = now(),
                finished_at = CASE WHEN attempts < max_attempts THEN NULL ELSE now() END,
                expires_at = CASE WHEN attempts < max_attempts THEN NULL ELSE now() + make_interval(secs => $1) END
         WHERE id IN (SELECT id FROM jobs WHERE state IN ('STARTED', 'PROGRESS') AND locked_until < now()
                      FOR UPDATE SKIP LOCKED)",
        retention_seconds
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}

/// Cancels a job that has not finished: `REVOKED` at once (a running job's worker sees it at its
/// next heartbeat and stops it). Returns the job's state afterwards, `None` when it does not exist.
#[tracing::instrument(skip_all)]
pub async fn cancel(db: impl PgExecutor<'_>, id: Uuid, retention_seconds: f64) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar!(
        "WITH target AS (SELECT id, state FROM jobs WHERE id = $1),
              revoked AS (
                UPDATE jobs SET state = 'REVOKED', finished_at = now(), locked_until = NULL,
                                expires_at = now() + make_interval(secs => $2)
                WHERE id = $1 AND state IN ('PENDING', 'STARTED', 'PROGRESS')
                RETURNING state)
         SELECT COALESCE((SELECT state FROM revoked), (SELECT state FROM target)) AS state",
        id,
        retention_seconds
    )
    .fetch_one(db)
    .await
}

/// Runs a finished (failed, cancelled or succeeded) job again from its first attempt. False when
/// the job does not exist or has not finished.
#[tracing::instrument(skip_all)]
pub async fn retry(db: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<bool> {
    let done = sqlx::query!(
        "UPDATE jobs SET state = 'PENDING', attempts = 0, run_at = now(), error = NULL, result = NULL,
                         progress = NULL, finished_at = NULL, expires_at = NULL, locked_until = NULL
         WHERE id = $1 AND state IN ('SUCCESS', 'FAILURE', 'REVOKED')",
        id
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// One job.
#[tracing::instrument(skip_all)]
pub async fn get(db: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<Option<JobRow>> {
    sqlx::query_as!(
        JobRow,
        "SELECT id, kind, args, owner, state, progress, result, error, attempts, max_attempts, run_at, created_at,
                started_at, heartbeat_at, locked_until, worker, finished_at, expires_at
         FROM jobs WHERE id = $1",
        id
    )
    .fetch_optional(db)
    .await
}

/// Jobs, newest first, optionally only those in one of `states`, of one `kind` or of one `owner`.
#[tracing::instrument(skip_all)]
pub async fn list(
    db: impl PgExecutor<'_>,
    states: Option<&[String]>,
    kind: Option<&str>,
    owner: Option<Uuid>,
    limit: i64,
) -> sqlx::Result<Vec<JobRow>> {
    sqlx::query_as!(
        JobRow,
        "SELECT id, kind, args, owner, state, progress, result, error, attempts, max_attempts, run_at, created_at,
                started_at, heartbeat_at, locked_until, worker, finished_at, expires_at
         FROM jobs
         WHERE ($1::text[] IS NULL OR state = ANY($1)) AND ($2::text IS NULL OR kind = $2)
           AND ($3::uuid IS NULL OR owner = $3)
         ORDER BY created_at DESC, id LIMIT $4",
        states,
        kind,
        owner,
        limit
    )
    .fetch_all(db)
    .await
}

/// Deletes finished jobs whose retention ended, and period slots older than 30 days; returns how
/// many jobs went (their export files are removed by the cleanup once no job holds them).
#[tracing::instrument(skip_all)]
pub async fn purge_expired(db: impl PgExecutor<'_> + Copy) -> sqlx::Result<u64> {
    let deleted =
        sqlx::query!("DELETE FROM jobs WHERE expires_at < now() AND state IN ('SUCCESS', 'FAILURE', 'REVOKED')")
            .execute(db)
            .await?;
    sqlx::query!("DELETE FROM periodic_runs WHERE created_at < now() - interval '30 days'").execute(db).await?;
    Ok(deleted.rows_affected())
}

/// Which of `ids` are jobs still held (not purged).
#[tracing::instrument(skip_all)]
pub async fn existing(db: impl PgExecutor<'_>, ids: &[Uuid]) -> sqlx::Result<Vec<Uuid>> {
    sqlx::query_scalar!("SELECT id FROM jobs WHERE id = ANY($1)", ids).fetch_all(db).await
}

/// Takes the period slot `slot` of periodic job `kind` for job `job_id`; false when another
/// scheduler took it already (then no job is to be enqueued).
#[tracing::instrument(skip_all)]
pub async fn take_period_slot(db: impl PgExecutor<'_>, kind: &str, slot: i64, job_id: Uuid) -> sqlx::Result<bool> {
    let done = sqlx::query!(
        "INSERT INTO periodic_runs (kind, slot, job_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        kind,
        slot,
        job_id
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The database's clock, in seconds since the epoch (every scheduler counts periods by it, so
/// machines with skewed clocks agree on the slot).
#[tracing::instrument(skip_all)]
pub async fn now_epoch(db: impl PgExecutor<'_>) -> sqlx::Result<f64> {
    sqlx::query_scalar!(r#"SELECT extract(epoch FROM clock_timestamp())::float8 AS "now!""#).fetch_one(db).await
}

/// Counts of jobs per state.
#[tracing::instrument(skip_all)]
pub async fn count_by_state(db: impl PgExecutor<'_>) -> sqlx::Result<Vec<(String, i64)>> {
    let rows =
        sqlx::query!(r#"SELECT state, count(*) AS "n!" FROM jobs GROUP BY state ORDER BY state"#).fetch_all(db).await?;
    Ok(rows.into_iter().map(|r| (r.state, r.n)).collect())
}

/// `ANALYZE` of the whole database (statistics for the planner; never a blocking `VACUUM FULL`).
#[tracing::instrument(skip_all)]
pub async fn analyze(db: impl PgExecutor<'_>) -> sqlx::Result<()> {
    sqlx::query!("ANALYZE").execute(db).await?;
    Ok(())
}

/// The ids of every job of `kind` still held (their files are not orphans).
#[tracing::instrument(skip_all)]
pub async fn ids_of_kind(db: impl PgExecutor<'_>, kind: &str) -> sqlx::Result<Vec<Uuid>> {
    sqlx::query_scalar!("SELECT id FROM jobs WHERE kind = $1", kind).fetch_all(db).await
}
