//! The lease that lets one process at a time run the maintenance sweep.

use sqlx::PgExecutor;

/// Takes the sweep's session advisory lock ("sweep"); false when another process holds it.
#[tracing::instrument(skip_all)]
pub async fn try_lead_sweep(db: impl PgExecutor<'_>) -> sqlx::Result<bool> {
    sqlx::query_scalar!(r#"SELECT pg_try_advisory_lock(hashtextextended('corpus-te/sweep', 0)) AS "taken!""#)
        .fetch_one(db)
        .await
}

/// Releases the lock [`try_lead_sweep`] took on the same connection.
#[tracing::instrument(skip_all)]
pub async fn end_sweep(db: impl PgExecutor<'_>) -> sqlx::Result<()> {
    sqlx::query_scalar!("SELECT pg_advisory_unlock(hashtextextended('corpus-te/sweep', 0))").fetch_one(db).await?;
    Ok(())
}
