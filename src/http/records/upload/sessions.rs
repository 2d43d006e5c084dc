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

use axum::{
    Json,
    extract::{Path, State},
};
use serde::Serialize;
use sqlx::PgConnection;
use uuid::Uuid;

pub(super) use crate::db::uploads::SessionRow;
use crate::{
    auth::{Auth, CurrentUser, roles::AnyRole},
    db::uploads,
    error::{AppError, Result},
    state::AppState,
    storage::objects::chunk_key,
};

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

/// The upload, if the caller owns it. Someone else's upload is answered like a missing one (as
/// someone else's record is), so an upload id reveals nothing about its owner.
pub(super) async fn load_session(
    db: &mut PgConnection,
    user: &CurrentUser,
    upload_uuid: Uuid,
) -> Result<Option<SessionRow>> {
    Ok(uploads::session(db, upload_uuid).await?.filter(|s| s.user_id == user.id))
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
    let chunks = uploads::chunks(&state.db, upload_uuid).await?;
    let received: Vec<i32> = chunks.iter().map(|c| c.chunk_index).collect();
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
        received_bytes: chunks.iter().map(|c| c.size).sum(),
        received_chunks: received,
        missing_chunks: missing,
        record_uid: session.record_uid,
    }))
}

/// Notes on the session the key of the object a finalise is about to store.
pub(super) async fn note_object_key(db: &mut PgConnection, upload_uuid: Uuid, key: &str) -> Result<()> {
    Ok(uploads::note_object_key(db, upload_uuid, key).await?)
}
