//! The backup log (`backup_run`): each backup records itself when it starts and when it ends, so
//! the last good backup's age is known to `db status` and `/metrics` on every replica.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgExecutor};
use tracing::instrument;
use uuid::Uuid;

/// The most recent successful backup.
#[derive(Debug, Clone, PartialEq)]
pub struct LastBackup {
    /// When it finished.
    pub finished_at: DateTime<Utc>,
    /// Where it was written (a directory, or `bucket:backups/<name>`).
    pub location: String,
    /// Bytes written (dump and objects).
    pub bytes: Option<i64>,
}

/// Records a backup that starts now; returns its id.
#[instrument(skip_all)]
pub async fn start(db: impl PgExecutor<'_>, location: &str, scheduled: bool) -> sqlx::Result<Uuid> {
    sqlx::query_scalar!(
        "INSERT INTO backup_run (location, scheduled) VALUES ($1, $2) RETURNING id",
        location,
        scheduled
    )
    .fetch_one(db)
    .await
}

/// Records that the backup `id` completed.
#[instrument(skip_all)]
pub async fn succeed(db: impl PgExecutor<'_>, id: Uuid, location: &str, bytes: i64, objects: i32) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE backup_run SET finished_at = now(), succeeded = true, location = $2, bytes = $3, objects = $4
         WHERE id = $1",
        id,
        location,
        bytes,
        objects
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Records that the backup `id` failed, with a readable reason.
#[instrument(skip_all)]
pub async fn fail(db: impl PgExecutor<'_>, id: Uuid, error: &str) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE backup_run SET finished_at = now(), succeeded = false, error = left($2, 2000) WHERE id = $1",
        id,
        error
    )
    .execute(db)
    .await?;
    Ok(())
}

/// The most recent successful backup, if any. `None` too on a database older than the backup
/// log (`db status` reads databases before they are migrated).
#[instrument(skip_all)]
pub async fn last_success(conn: &mut PgConnection) -> sqlx::Result<Option<LastBackup>> {
    let exists = sqlx::query_scalar!(r#"SELECT to_regclass('public.backup_run') IS NOT NULL AS "exists!""#)
        .fetch_one(&mut *conn)
        .await?;
    if !exists {
        return Ok(None);
    }
    sqlx::query_as!(
        LastBackup,
        r#"SELECT finished_at AS "finished_at!", location, bytes FROM backup_run
           WHERE succeeded ORDER BY finished_at DESC LIMIT 1"#
    )
    .fetch_optional(&mut *conn)
    .await
}
