//! Enqueuing jobs from application code: the kind's attempts and the configured default.

use serde_json::Value;
use sqlx::PgExecutor;
use uuid::Uuid;

use crate::{config::Config, db::jobs::NewJob};

/// Enqueues a job of `kind` (in the caller's transaction when `db` is one) and returns its id.
pub async fn enqueue(
    db: impl PgExecutor<'_>,
    config: &Config,
    kind: &str,
    args: Value,
    owner: Option<Uuid>,
) -> sqlx::Result<Uuid> {
    let max_attempts = super::Registry::standard()
        .get(kind)
        .and_then(|job| job.max_attempts())
        .unwrap_or(config.jobs.job_max_attempts);
    crate::db::jobs::enqueue(db, &NewJob { kind, args, owner, max_attempts }).await
}
