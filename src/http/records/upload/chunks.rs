//! `POST /records/upload/chunk`: one chunk of a resumable upload, within the upload's size limit
//! and the per-user caps on unfinished uploads.

use axum::{Json, extract::State};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use uuid::Uuid;

use super::{
    form::{FilePart, UploadBody, UploadFormSpec},
    sessions::{busy, chunk_object_key, load_session, not_found},
};
use crate::{
    auth::{Auth, CurrentUser, roles::AnyRole},
    db::uploads,
    error::{AppError, FieldError, Result},
    http::{
        Validate, Validator,
        limits::{FILE_NAME_MAX, TOTAL_CHUNKS_MAX},
    },
    state::AppState,
    storage::{
        objects::chunk_key,
        spool::{Spooled, too_large},
    },
};

/// Answer of `POST /records/upload/chunk`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ChunkResponse {
    /// `Chunk uploaded successfully`.
    pub message: String,
    /// The upload.
    pub upload_uuid: Uuid,
    /// The chunk just stored.
    pub chunk_index: i32,
    /// Chunks the upload has in all.
    pub total_chunks: i32,
    /// Chunks the server holds now.
    pub received_chunks: i64,
    /// True when every chunk is there and the upload can be finalised.
    pub complete: bool,
}

/// The multipart body of `POST /records/upload/chunk`, for the documentation.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct ChunkRequest {
    /// The chunk's bytes (some clients name this part `file`).
    #[schema(value_type = String, format = Binary)]
    chunk: Vec<u8>,
    /// The whole file's name.
    #[schema(min_length = 1, max_length = 255)]
    filename: Option<String>,
    /// Position of this chunk, from 0.
    #[schema(minimum = 0)]
    chunk_index: i64,
    /// How many chunks the file has.
    #[schema(minimum = 1, maximum = 100000)]
    total_chunks: i64,
    /// Id of the upload, chosen by the client.
    upload_uuid: Uuid,
}

/// The text fields of `POST /records/upload/chunk`.
#[derive(Debug, Deserialize)]
pub struct ChunkForm {
    upload_uuid: Uuid,
    chunk_index: i64,
    total_chunks: i64,
    #[serde(default)]
    filename: Option<String>,
}

impl UploadFormSpec for ChunkForm {
    const FILE_PARTS: &'static [&'static str] = &["chunk", "file"];
    const URLENCODED: bool = false;
}

impl Validate for ChunkForm {
    fn validate(&self, v: &mut Validator) {
        v.range_i64("total_chunks", self.total_chunks, 1, TOTAL_CHUNKS_MAX);
        v.range_i64("chunk_index", self.chunk_index, 0, (self.total_chunks - 1).max(0));
        v.opt_str_len("filename", self.filename.as_deref(), 1, FILE_NAME_MAX);
    }
}

/// The per-user caps on unfinished uploads in effect: (open sessions, bytes); 0 = no limit.
fn user_caps(state: &AppState) -> (i64, u64) {
    let config = &state.config;
    let bytes =
        config.uploads.upload_max_pending_bytes_per_user.unwrap_or(config.uploads.max_file_size.saturating_mul(4));
    (i64::from(config.uploads.upload_max_open_per_user), bytes)
}

/// One chunk about to be recorded.
struct ChunkWrite<'a> {
    user: &'a CurrentUser,
    upload_uuid: Uuid,
    index: i32,
    total: i32,
    filename: String,
    spooled: Spooled,
}

/// Checks the upload's state, the size limit and the per-user caps for `w`: once before the
/// chunk is stored (to refuse early) and again under the locks (to be exact). Returns the
/// sha256 of the chunk held at this index so far, if any.
async fn check_chunk(state: &AppState, db: &mut PgConnection, w: &ChunkWrite<'_>) -> Result<Option<String>> {
    let (max_open, max_pending) = user_caps(state);
    match uploads::owner(&mut *db, w.upload_uuid).await? {
        Some(owner) if owner != w.user.id => return Err(not_found()),
        Some(_) => {
            let session = load_session(&mut *db, w.user, w.upload_uuid).await?.ok_or_else(not_found)?;
            if session.record_uid.is_some() {
                return Err(AppError::Conflict("This upload is already complete".into()));
            }
            if session.total_chunks != w.total {
                return Err(AppError::Conflict(format!(
                    "total_chunks {} does not match the upload's {} chunks",
                    w.total, session.total_chunks
                )));
            }
        }
        None if max_open > 0 => {
            let open = uploads::open_count(&mut *db, w.user.id).await?;
            if open >= max_open {
                return Err(AppError::TooManyRequests(format!(
                    "Too many unfinished uploads: finish or abandon one first (the limit is {max_open})"
                )));
            }
        }
        None => {}
    }
    // Bytes already held, leaving out the chunk this one replaces.
    let (this_upload, all_open) = uploads::held_bytes(&mut *db, w.user.id, w.upload_uuid, w.index).await?;
    let max = state.config.uploads.max_file_size;
    if this_upload as u64 + w.spooled.size > max {
        return Err(too_large(max));
    }
    if max_pending > 0 && all_open as u64 + w.spooled.size > max_pending {
        return Err(AppError::TooManyRequests(format!(
            "Too much unfinished upload data: finish or abandon an upload first (the limit is {max_pending} bytes)"
        )));
    }
    let existing = uploads::chunk_sha256(&mut *db, w.upload_uuid, w.index).await?;
    Ok(existing)
}

/// Records a stored chunk in one short transaction, under the user's lock (so the caps are
/// exact) and the upload's lock shared (so never while it is being finalised). Returns the
/// sha256 of the chunk it replaced, if any, and how many chunks the upload holds now.
async fn record_chunk(state: &AppState, w: &ChunkWrite<'_>, stored: bool) -> Result<(Option<String>, i64)> {
    let mut tx = state.db.begin().await?;
    uploads::lock_user_xact(&mut *tx, w.user.id).await?;
    let shared = uploads::try_share_upload_xact(&mut *tx, w.upload_uuid).await?;
    if !shared {
        return Err(busy());
    }
    let previous = check_chunk(state, &mut tx, w).await?;
    if !stored && previous.as_deref() != Some(w.spooled.sha256.as_str()) {
        // The same bytes were held when this request began; they were replaced since.
        return Err(AppError::Conflict("The chunk changed while it was being sent; please send it again".into()));
    }
    uploads::open_session(&mut *tx, w.upload_uuid, w.user.id, &w.filename, w.total).await?;
    uploads::put_chunk(&mut *tx, w.upload_uuid, w.index, w.spooled.size as i64, &w.spooled.sha256).await?;
    let received = uploads::touch(&mut *tx, w.upload_uuid).await?;
    tx.commit().await?;
    Ok((previous, received))
}

/// Stores one chunk of a resumable upload (multipart `chunk` or `file`, `filename`,
/// `chunk_index` from 0, `total_chunks`, `upload_uuid` chosen by the client). Chunks may come in
/// any order; re-sending one is harmless. The upload belongs to whoever sent its first chunk.
/// A user may hold `UPLOAD_MAX_OPEN_PER_USER` unfinished uploads and
/// `UPLOAD_MAX_PENDING_BYTES_PER_USER` bytes in them (429 beyond).
#[utoipa::path(post, path = "/api/v1/records/upload/chunk", tag = "records", security(("HTTPBearer" = [])),
    request_body(content = ChunkRequest, content_type = "multipart/form-data"),
    responses((status = 200, body = ChunkResponse), (status = 400, body = crate::error::ErrorDetail),
        (status = 403, body = crate::error::ErrorDetail), (status = 404, body = crate::error::ErrorDetail),
        (status = 409, body = crate::error::ErrorDetail), (status = 413, body = crate::error::ErrorDetail),
        (status = 422, body = crate::error::ValidationErrorBody), (status = 429, body = crate::error::ErrorDetail),
        (status = 503, body = crate::error::ErrorDetail)))]
pub async fn upload_chunk(
    State(state): State<AppState>,
    auth: Auth<AnyRole>,
    body: UploadBody<ChunkForm>,
) -> Result<Json<ChunkResponse>> {
    let UploadBody { form, file } = body;
    let Some(FilePart { spooled, client_name }) = file else {
        return Err(AppError::field(FieldError::new("missing", &["body", "chunk"], "Field required")));
    };
    if spooled.size == 0 {
        return Err(AppError::BadRequest("Empty chunk".into()));
    }
    let w = ChunkWrite {
        user: &auth,
        upload_uuid: form.upload_uuid,
        index: form.chunk_index as i32,
        total: form.total_chunks as i32,
        filename: form.filename.or(client_name).unwrap_or_else(|| "upload".into()).chars().take(255).collect(),
        spooled,
    };
    let existing = check_chunk(&state, &mut *state.db.acquire().await?, &w).await?;
    let key = chunk_object_key(w.upload_uuid, w.index, &w.spooled.sha256);
    // A re-sent chunk with the same bytes is already stored.
    let store = existing.as_deref() != Some(w.spooled.sha256.as_str());
    if store {
        state.storage.put_file(&key, w.spooled.path(), None).await.map_err(|e| {
            tracing::error!(error = %format!("{e:#}"), "storing a chunk failed");
            AppError::ServiceUnavailable("Chunk upload failed: storage is unavailable, please retry".into())
        })?;
    }
    let (previous, received) = match record_chunk(&state, &w, store).await {
        Ok(recorded) => recorded,
        Err(e) => {
            if store {
                remove_unrecorded(&state, &w, &key).await;
            }
            return Err(e);
        }
    };
    if let Some(old) = previous.filter(|old| *old != w.spooled.sha256) {
        state.storage.delete_quietly(&chunk_object_key(w.upload_uuid, w.index, &old)).await;
        state.storage.delete_quietly(&chunk_key(w.upload_uuid, w.index)).await;
    }
    Ok(Json(ChunkResponse {
        message: "Chunk uploaded successfully".into(),
        upload_uuid: w.upload_uuid,
        chunk_index: w.index,
        total_chunks: w.total,
        received_chunks: received,
        complete: received == i64::from(w.total),
    }))
}

/// Removes a chunk object whose row was not written, unless a concurrent request with the same
/// bytes recorded it meanwhile.
async fn remove_unrecorded(state: &AppState, w: &ChunkWrite<'_>, key: &str) {
    let recorded = uploads::chunk_recorded(&state.db, w.upload_uuid, w.index, &w.spooled.sha256).await;
    if let Ok(false) = recorded {
        state.storage.delete_quietly(key).await;
    }
}
