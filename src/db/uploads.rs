//! Resumable uploads: sessions, their chunks, and the advisory locks that keep chunk writes, a
//! finalise and the sweep apart.
//!
//! Each upload has an advisory lock in a key space of its own
//! (`hashtextextended('corpus-te/upload/<uuid>')`): a finalise holds it exclusively on its own
//! connection ([`try_lock_upload`]), a chunk write shares it for its transaction
//! ([`try_share_upload_xact`]), the sweep takes it exclusively without waiting
//! ([`try_lock_upload_xact`]). A user's chunk writes are serialised by a second key
//! ([`lock_user_xact`]), so the per-user caps are exact.

use std::time::Duration;

use sqlx::PgExecutor;
use uuid::Uuid;

/// An upload session.
#[derive(Debug, sqlx::FromRow)]
pub struct SessionRow {
    /// Who sent its first chunk.
    pub user_id: Uuid,
    /// The file name given with the chunks.
    pub filename: String,
    /// How many chunks make the file.
    pub total_chunks: i32,
    /// The record it became, once finalised.
    pub record_uid: Option<Uuid>,
    /// The object a finalise was storing (set before storing, cleared at its commit).
    pub finalise_object_key: Option<String>,
}

/// One upload's session.
#[tracing::instrument(skip_all)]
pub async fn session(db: impl PgExecutor<'_>, upload_uuid: Uuid) -> sqlx::Result<Option<SessionRow>> {
    sqlx::query_as!(
        SessionRow,
        "SELECT user_id, filename, total_chunks, record_uid, finalise_object_key
         FROM upload_session WHERE upload_uuid = $1",
        upload_uuid
    )
    .fetch_optional(db)
    .await
}

/// The owner of an upload, if it exists.
#[tracing::instrument(skip_all)]
pub async fn owner(db: impl PgExecutor<'_>, upload_uuid: Uuid) -> sqlx::Result<Option<Uuid>> {
    sqlx::query_scalar!("SELECT user_id FROM upload_session WHERE upload_uuid = $1", upload_uuid)
        .fetch_optional(db)
        .await
}

/// How many unfinished uploads a user holds.
#[tracing::instrument(skip_all)]
pub async fn open_count(db: impl PgExecutor<'_>, user_id: Uuid) -> sqlx::Result<i64> {
    sqlx::query_scalar!(
        r#"SELECT count(*) AS "count!" FROM upload_session WHERE user_id = $1 AND record_uid IS NULL"#,
        user_id
    )
    .fetch_one(db)
    .await
}

/// Bytes a user's unfinished uploads hold, leaving out one chunk (the one being replaced):
/// (in `upload_uuid`, in all of them).
#[tracing::instrument(skip_all)]
pub async fn held_bytes(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    upload_uuid: Uuid,
    except_index: i32,
) -> sqlx::Result<(i64, i64)> {
    let row = sqlx::query!(
        r#"SELECT COALESCE(sum(c.size) FILTER (WHERE c.upload_uuid = $2), 0)::bigint AS "this_upload!",
                  COALESCE(sum(c.size), 0)::bigint AS "all_open!"
           FROM upload_chunk c JOIN upload_session s USING (upload_uuid)
           WHERE s.user_id = $1 AND s.record_uid IS NULL AND NOT (c.upload_uuid = $2 AND c.chunk_index = $3)"#,
        user_id,
        upload_uuid,
        except_index
    )
    .fetch_one(db)
    .await?;
    Ok((row.this_upload, row.all_open))
}

/// The SHA-256 of a stored chunk.
#[tracing::instrument(skip_all)]
pub async fn chunk_sha256(db: impl PgExecutor<'_>, upload_uuid: Uuid, index: i32) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar!(
        r#"SELECT sha256::text AS "sha256!" FROM upload_chunk WHERE upload_uuid = $1 AND chunk_index = $2"#,
        upload_uuid,
        index
    )
    .fetch_optional(db)
    .await
}

/// Whether a chunk with exactly these bytes is recorded.
#[tracing::instrument(skip_all)]
pub async fn chunk_recorded(
    db: impl PgExecutor<'_>,
    upload_uuid: Uuid,
    index: i32,
    sha256: &str,
) -> sqlx::Result<bool> {
    sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM upload_chunk WHERE upload_uuid = $1 AND chunk_index = $2 AND sha256 = $3)
           AS "recorded!""#,
        upload_uuid,
        index,
        sha256
    )
    .fetch_one(db)
    .await
}

/// Serialises one user's chunk writes until the transaction ends.
#[tracing::instrument(skip_all)]
pub async fn lock_user_xact(db: impl PgExecutor<'_>, user_id: Uuid) -> sqlx::Result<()> {
    sqlx::query!(
        "SELECT pg_advisory_xact_lock(hashtextextended('corpus-te/upload-user/' || $1::uuid::text, 0))",
        user_id
    )
    .fetch_one(db)
    .await?;
    Ok(())
}

/// Shares an upload's lock until the transaction ends; false while a finalise holds it.
#[tracing::instrument(skip_all)]
pub async fn try_share_upload_xact(db: impl PgExecutor<'_>, upload_uuid: Uuid) -> sqlx::Result<bool> {
    sqlx::query_scalar!(
        r#"SELECT pg_try_advisory_xact_lock_shared(hashtextextended('corpus-te/upload/' || $1::uuid::text, 0)) AS "taken!""#,
        upload_uuid
    )
    .fetch_one(db)
    .await
}

/// Takes an upload's lock exclusively until the transaction ends; false when anyone holds it.
#[tracing::instrument(skip_all)]
pub async fn try_lock_upload_xact(db: impl PgExecutor<'_>, upload_uuid: Uuid) -> sqlx::Result<bool> {
    sqlx::query_scalar!(
        r#"SELECT pg_try_advisory_xact_lock(hashtextextended('corpus-te/upload/' || $1::uuid::text, 0)) AS "taken!""#,
        upload_uuid
    )
    .fetch_one(db)
    .await
}

/// Takes an upload's lock exclusively for the session (the connection); false when anyone holds
/// it. Released by [`unlock_upload`] or by closing the connection.
#[tracing::instrument(skip_all)]
pub async fn try_lock_upload(db: impl PgExecutor<'_>, upload_uuid: Uuid) -> sqlx::Result<bool> {
    sqlx::query_scalar!(
        r#"SELECT pg_try_advisory_lock(hashtextextended('corpus-te/upload/' || $1::uuid::text, 0)) AS "taken!""#,
        upload_uuid
    )
    .fetch_one(db)
    .await
}

/// Releases a lock taken by [`try_lock_upload`] on the same connection.
#[tracing::instrument(skip_all)]
pub async fn unlock_upload(db: impl PgExecutor<'_>, upload_uuid: Uuid) -> sqlx::Result<()> {
    sqlx::query_scalar!(
        "SELECT pg_advisory_unlock(hashtextextended('corpus-te/upload/' || $1::uuid::text, 0))",
        upload_uuid
    )
    .fetch_one(db)
    .await?;
    Ok(())
}

/// Opens the session on a first chunk (a later chunk leaves it as it is).
#[tracing::instrument(skip_all)]
pub async fn open_session(
    db: impl PgExecutor<'_>,
    upload_uuid: Uuid,
    user_id: Uuid,
    filename: &str,
    total_chunks: i32,
) -> sqlx::Result<()> {
    sqlx::query!(
        "INSERT INTO upload_session (upload_uuid, user_id, filename, total_chunks) VALUES ($1, $2, $3, $4)
         ON CONFLICT (upload_uuid) DO NOTHING",
        upload_uuid,
        user_id,
        filename,
        total_chunks
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Records a stored chunk (replacing an earlier one with the same index).
#[tracing::instrument(skip_all)]
pub async fn put_chunk(
    db: impl PgExecutor<'_>,
    upload_uuid: Uuid,
    index: i32,
    size: i64,
    sha256: &str,
) -> sqlx::Result<()> {
    sqlx::query!(
        "INSERT INTO upload_chunk (upload_uuid, chunk_index, size, sha256) VALUES ($1, $2, $3, $4)
         ON CONFLICT (upload_uuid, chunk_index)
         DO UPDATE SET size = EXCLUDED.size, sha256 = EXCLUDED.sha256, received_at = now()",
        upload_uuid,
        index,
        size,
        sha256
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Marks the session active now; returns how many chunks it holds.
#[tracing::instrument(skip_all)]
pub async fn touch(db: impl PgExecutor<'_>, upload_uuid: Uuid) -> sqlx::Result<i64> {
    sqlx::query_scalar!(
        r#"WITH touched AS (UPDATE upload_session SET updated_at = now() WHERE upload_uuid = $1)
           SELECT count(*) AS "count!" FROM upload_chunk WHERE upload_uuid = $1"#,
        upload_uuid
    )
    .fetch_one(db)
    .await
}

/// A received chunk.
#[derive(Debug)]
pub struct ChunkRow {
    /// Its index.
    pub chunk_index: i32,
    /// Bytes.
    pub size: i64,
    /// SHA-256, hex.
    pub sha256: String,
}

/// The chunks received, by index.
#[tracing::instrument(skip_all)]
pub async fn chunks(db: impl PgExecutor<'_>, upload_uuid: Uuid) -> sqlx::Result<Vec<ChunkRow>> {
    sqlx::query_as!(
        ChunkRow,
        r#"SELECT chunk_index, size, sha256::text AS "sha256!" FROM upload_chunk WHERE upload_uuid = $1
           ORDER BY chunk_index"#,
        upload_uuid
    )
    .fetch_all(db)
    .await
}

/// Notes on the session the key of the object a finalise is about to store.
#[tracing::instrument(skip_all)]
pub async fn note_object_key(db: impl PgExecutor<'_>, upload_uuid: Uuid, key: &str) -> sqlx::Result<()> {
    sqlx::query!("UPDATE upload_session SET finalise_object_key = $2 WHERE upload_uuid = $1", upload_uuid, key)
        .execute(db)
        .await?;
    Ok(())
}

/// Marks an upload done (it became `record_uid`) and forgets its chunks.
#[tracing::instrument(skip_all)]
pub async fn mark_finalised(db: &mut sqlx::PgConnection, upload_uuid: Uuid, record_uid: Uuid) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE upload_session SET record_uid = $2, finalise_object_key = NULL, updated_at = now()
         WHERE upload_uuid = $1",
        upload_uuid,
        record_uid
    )
    .execute(&mut *db)
    .await?;
    sqlx::query!("DELETE FROM upload_chunk WHERE upload_uuid = $1", upload_uuid).execute(db).await?;
    Ok(())
}

/// Uploads untouched for longer than `older_than`.
#[tracing::instrument(skip_all)]
pub async fn idle_since(db: impl PgExecutor<'_>, older_than: Duration) -> sqlx::Result<Vec<Uuid>> {
    sqlx::query_scalar!(
        "SELECT upload_uuid FROM upload_session WHERE updated_at < now() - make_interval(secs => $1)",
        older_than.as_secs_f64()
    )
    .fetch_all(db)
    .await
}

/// An upload found idle: the record it became, and the object a dead finalise left.
#[derive(Debug)]
pub struct IdleUpload {
    /// The record it became, if finalised.
    pub record_uid: Option<Uuid>,
    /// The object a finalise was storing when it died.
    pub finalise_object_key: Option<String>,
}

/// The upload, if it is still idle for longer than `older_than` (checked again under its lock).
#[tracing::instrument(skip_all)]
pub async fn still_idle(
    db: impl PgExecutor<'_>,
    upload_uuid: Uuid,
    older_than: Duration,
) -> sqlx::Result<Option<IdleUpload>> {
    sqlx::query_as!(
        IdleUpload,
        "SELECT record_uid, finalise_object_key FROM upload_session
         WHERE upload_uuid = $1 AND updated_at < now() - make_interval(secs => $2)",
        upload_uuid,
        older_than.as_secs_f64()
    )
    .fetch_optional(db)
    .await
}

/// Deletes an upload's session (and its chunk rows) if it is still idle for longer than
/// `older_than`: the condition is checked again by the statement that deletes.
#[tracing::instrument(skip_all)]
pub async fn delete_idle(db: impl PgExecutor<'_>, upload_uuid: Uuid, older_than: Duration) -> sqlx::Result<u64> {
    Ok(sqlx::query!(
        "DELETE FROM upload_session WHERE upload_uuid = $1 AND updated_at < now() - make_interval(secs => $2)",
        upload_uuid,
        older_than.as_secs_f64()
    )
    .execute(db)
    .await?
    .rows_affected())
}
