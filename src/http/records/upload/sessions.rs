//! Resumable upload sessions: what they hold, their status, their locks, and the sweep of
//! abandoned ones.
//!
//! Each upload has a PostgreSQL advisory lock. A finalise ([`super::finalise`]) holds it
//! exclusively on its own connection from start to end, so a second finalise gets 409 while the
//! first is alive; the lock dies with that connection, so a finalise whose process was killed is
//! taken over at once (and one whose request was dropped releases it on the spot). A chunk write
//! ([`super::chunks`]) takes the lock shared for its short transaction, and the sweep
//! exclusively, without waiting.
//!
//! Chunk objects are named after their content (`uploads/<upload>/<index>.<sha256>`): a chunk
//! re-sent with other bytes gets a new object, so nothing a finalise is reading ever changes.

use std::time::Duration;

use axum::{
    Json,
    extract::{Path, State},
};
use serde::Serialize;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::{
    auth::{Auth, CurrentUser, roles::AnyRole},
    error::{AppError, Result},
    state::AppState,
    storage::objects::{chunk_key, chunk_prefix},
};

/// The advisory lock key of an upload (a key space of its own: see `hashtextextended`).
pub(super) const UPLOAD_LOCK: &str = "hashtextextended('corpus-te/upload/' || $1::text, 0)";
/// The advisory lock key that serialises one user's chunk writes (for exact per-user caps).
pub(super) const USER_LOCK: &str = "hashtextextended('corpus-te/upload-user/' || $1::text, 0)";

pub(super) fn busy() -> AppError {
    AppError::Conflict("This upload is already being finalised".into())
}

pub(super) fn not_found() -> AppError {
    AppError::NotFound("Upload not found".into())
}

/// The object a chunk's bytes are kept in.
pub(super) fn chunk_object_key(upload_uuid: Uuid, index: i32, sha256: &str) -> String {
    format!("{}.{sha256}", chunk_key(upload_uuid, index))
}

#[derive(sqlx::FromRow)]
pub(super) struct SessionRow {
    pub(super) user_id: Uuid,
    pub(super) filename: String,
    pub(super) total_chunks: i32,
    pub(super) record_uid: Option<Uuid>,
    pub(super) finalise_object_key: Option<String>,
}

const SESSION_COLUMNS: &str = "user_id, filename, total_chunks, record_uid, finalise_object_key";

/// The upload, if the caller owns it. Someone else's upload is answered like a missing one (as
/// someone else's record is), so an upload id reveals nothing about its owner.
pub(super) async fn load_session(
    db: &mut PgConnection,
    user: &CurrentUser,
    upload_uuid: Uuid,
) -> Result<Option<SessionRow>> {
    let session = sqlx::query_as::<_, SessionRow>(&format!(
        "SELECT {SESSION_COLUMNS} FROM upload_session WHERE upload_uuid = $1"
    ))
    .bind(upload_uuid)
    .fetch_optional(db)
    .await?;
    Ok(session.filter(|s| s.user_id == user.id))
}

/// What the server holds of a resumable upload.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UploadStatus {
    /// The upload.
    pub upload_uuid: Uuid,
    /// File name given with the chunks.
    pub filename: String,
    /// Chunks the upload has in all.
    pub total_chunks: i32,
    /// Indexes the server holds, ascending.
    pub received_chunks: Vec<i32>,
    /// Indexes still to send, ascending.
    pub missing_chunks: Vec<i32>,
    /// Bytes received so far.
    pub received_bytes: i64,
    /// True when every chunk is there.
    pub complete: bool,
    /// The record, once finalised.
    pub record_uid: Option<Uuid>,
}

/// Which chunks of an upload the server already has, so a client can resume after a dropped
/// connection (the upload's owner only).
#[utoipa::path(get, path = "/api/v1/records/upload/{upload_uuid}/status", tag = "records", security(("HTTPBearer" = [])),
    params(("upload_uuid" = Uuid, Path)),
    responses((status = 200, body = UploadStatus), (status = 403, body = crate::error::ErrorDetail),
        (status = 404, body = crate::error::ErrorDetail)))]
pub async fn upload_status(
    State(state): State<AppState>,
    auth: Auth<AnyRole>,
    Path(upload_uuid): Path<String>,
) -> Result<Json<UploadStatus>> {
    let upload_uuid = Uuid::parse_str(upload_uuid.trim()).map_err(|_| not_found())?;
    let session = load_session(&mut *state.db.acquire().await?, &auth, upload_uuid).await?.ok_or_else(not_found)?;
    let chunks: Vec<(i32, i64)> =
        sqlx::query_as("SELECT chunk_index, size FROM upload_chunk WHERE upload_uuid = $1 ORDER BY chunk_index")
            .bind(upload_uuid)
            .fetch_all(&state.db)
            .await?;
    let received: Vec<i32> = chunks.iter().map(|c| c.0).collect();
    let missing: Vec<i32> = if session.record_uid.is_some() {
        Vec::new()
    } else {
        (0..session.total_chunks).filter(|i| received.binary_search(i).is_err()).collect()
    };
    Ok(Json(UploadStatus {
        upload_uuid,
        filename: session.filename,
        total_chunks: session.total_chunks,
        complete: missing.is_empty(),
        received_bytes: chunks.iter().map(|c| c.1).sum(),
        received_chunks: received,
        missing_chunks: missing,
        record_uid: session.record_uid,
    }))
}

/// Deletes resumable uploads untouched for longer than `older_than` (their chunk objects, the
/// object of a finalise that died, and the rows), and the bookkeeping of finished ones. Records
/// are never touched; an upload being finalised or written to is skipped. Returns how many
/// uploads were removed.
pub async fn cleanup_abandoned_uploads(state: &AppState, older_than: Duration) -> anyhow::Result<u64> {
    let ids: Vec<Uuid> = sqlx::query_scalar(
        "SELECT upload_uuid FROM upload_session WHERE updated_at < now() - make_interval(secs => $1)",
    )
    .bind(older_than.as_secs_f64())
    .fetch_all(&state.db)
    .await?;
    let mut removed = 0;
    for id in ids {
        let mut tx = state.db.begin().await?;
        let locked: bool = sqlx::query_scalar(&format!("SELECT pg_try_advisory_xact_lock({UPLOAD_LOCK})"))
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
        if !locked {
            continue;
        }
        // Still abandoned now that nothing else can touch it?
        let row: Option<(Option<Uuid>, Option<String>)> = sqlx::query_as(
            "SELECT record_uid, finalise_object_key FROM upload_session
             WHERE upload_uuid = $1 AND updated_at < now() - make_interval(secs => $2)",
        )
        .bind(id)
        .bind(older_than.as_secs_f64())
        .fetch_optional(&mut *tx)
        .await?;
        let Some((record_uid, dead_finalise_key)) = row else { continue };
        // Objects first: a row without objects is harmless, objects without a row are orphans.
        state.storage.delete_prefix(&chunk_prefix(id)).await?;
        if let (None, Some(key)) = (record_uid, dead_finalise_key) {
            state.storage.delete(&key).await?;
        }
        removed += sqlx::query("DELETE FROM upload_session WHERE upload_uuid = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
    }
    Ok(removed)
}

/// Notes on the session the key of the object a finalise is about to store.
pub(super) async fn note_object_key(db: &mut PgConnection, upload_uuid: Uuid, key: &str) -> Result<()> {
    sqlx::query("UPDATE upload_session SET finalise_object_key = $2 WHERE upload_uuid = $1")
        .bind(upload_uuid)
        .bind(key)
        .execute(db)
        .await?;
    Ok(())
}
