//! Browser sessions of the web console: created at sign-in, found by the hash of the cookie's id,
//! ended by logout (and, through a trigger, by a password change or deactivation), swept once
//! expired.

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;
use tracing::instrument;
use uuid::Uuid;

/// A live session.
#[derive(Debug, Clone)]
pub struct ConsoleSession {
    /// The signed-in user.
    pub user_id: Uuid,
    /// The token every form of this session must send back.
    pub csrf_token: String,
    /// When the session ends unless renewed.
    pub expires_at: DateTime<Utc>,
}

/// Stores a new session under the hash of its id.
#[instrument(skip_all)]
pub async fn insert(
    db: impl PgExecutor<'_>,
    id_hash: &str,
    user_id: Uuid,
    csrf_token: &str,
    expires_at: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "INSERT INTO console_session (id_hash, user_id, csrf_token, expires_at) VALUES ($1, $2, $3, $4)",
        id_hash,
        user_id,
        csrf_token,
        expires_at
    )
    .execute(db)
    .await?;
    Ok(())
}

/// The live session with this id hash, if its user is still active and has not changed password
/// since it began; its expiry slides to `renew_until` when that is later.
#[instrument(skip_all)]
pub async fn touch(
    db: impl PgExecutor<'_>,
    id_hash: &str,
    renew_until: DateTime<Utc>,
) -> sqlx::Result<Option<ConsoleSession>> {
    sqlx::query_as!(
        ConsoleSession,
        r#"UPDATE console_session s SET last_seen_at = now(), expires_at = GREATEST(s.expires_at, $2)
           FROM "user" u
           WHERE s.id_hash = $1 AND u.id = s.user_id AND s.expires_at > now() AND u.is_active
             AND (u.tokens_valid_after IS NULL OR s.created_at >= u.tokens_valid_after)
           RETURNING s.user_id, s.csrf_token, s.expires_at"#,
        id_hash,
        renew_until
    )
    .fetch_optional(db)
    .await
}

/// Ends one session (logout).
#[instrument(skip_all)]
pub async fn delete(db: impl PgExecutor<'_>, id_hash: &str) -> sqlx::Result<bool> {
    Ok(sqlx::query!("DELETE FROM console_session WHERE id_hash = $1", id_hash).execute(db).await?.rows_affected() > 0)
}

/// Ends every session of a user.
#[instrument(skip_all)]
pub async fn delete_for_user(db: impl PgExecutor<'_>, user_id: Uuid) -> sqlx::Result<u64> {
    Ok(sqlx::query!("DELETE FROM console_session WHERE user_id = $1", user_id).execute(db).await?.rows_affected())
}

/// Sessions a user holds (tests and operations).
#[instrument(skip_all)]
pub async fn count_for_user(db: impl PgExecutor<'_>, user_id: Uuid) -> sqlx::Result<i64> {
    sqlx::query_scalar!(r#"SELECT count(*) AS "n!" FROM console_session WHERE user_id = $1"#, user_id)
        .fetch_one(db)
        .await
}

/// Removes expired sessions; returns how many.
#[instrument(skip_all)]
pub async fn delete_expired(db: impl PgExecutor<'_>) -> sqlx::Result<u64> {
    Ok(sqlx::query!("DELETE FROM console_session WHERE expires_at <= now()").execute(db).await?.rows_affected())
}
