//! Uploads: direct (`POST /records/upload` with a `file` part) and resumable, the way the real
//! clients do it (`POST /records/upload/chunk` per chunk, then `POST /records/upload` with
//! `upload_uuid` and no file part).
//!
//! Bytes are never held whole in memory: the form is read as it streams in ([`form`]), the file
//! spooled to a locked temporary file ([`crate::storage::spool`]) while it arrives (hashing it and enforcing
//! `MAX_FILE_SIZE` → 413 on the way), checked against the declared media type (415), measured,
//! then streamed to storage. The record row is written last, and the object is removed again if
//! that fails, so a failure leaves neither a row nor an object. Chunks wait in object storage
//! ([`chunks`], [`sessions`]), so any replica can [`finalise`], and abandoned ones are swept after
//! `UPLOAD_SESSION_TTL_MINUTES`.

pub mod chunks;
pub mod finalise;
pub mod form;
pub mod sessions;
pub mod store;

use axum::{Json, extract::State, http::StatusCode};

pub use self::{
    chunks::{__path_upload_chunk, ChunkRequest, ChunkResponse, upload_chunk},
    sessions::{__path_upload_status, UploadStatus, upload_status},
    store::{UploadForm, UploadRequest},
};
use self::{
    form::UploadBody,
    store::{object_key, resolve_fields, store_upload},
};
use crate::{
    auth::{Auth, roles::AnyRole},
    error::{AppError, FieldError, Result},
    http::records::{
        create::insert_record,
        shared::{IntoRead, RecordRead},
    },
    state::AppState,
};

/// Direct upload (multipart with a `file` part), or finalisation of a chunked upload
/// (`upload_uuid` without a file part, multipart or form-urlencoded). Answers 201 with the record.
#[utoipa::path(post, path = "/api/v1/records/upload", tag = "records", security(("HTTPBearer" = [])),
    request_body(content((UploadRequest = "multipart/form-data"), (UploadRequest = "application/x-www-form-urlencoded")),
        description = "A direct upload (multipart with `file`), or the end of a chunked upload (`upload_uuid`, no file; multipart or form-urlencoded)"),
    responses((status = 201, body = RecordRead), (status = 400, body = crate::error::ErrorDetail),
        (status = 403, body = crate::error::ErrorDetail), (status = 409, body = crate::error::ErrorDetail),
        (status = 413, body = crate::error::ErrorDetail), (status = 415, body = crate::error::ErrorDetail),
        (status = 422, body = crate::error::ValidationErrorBody), (status = 503, body = crate::error::ErrorDetail)))]
pub async fn upload(
    State(state): State<AppState>,
    auth: Auth<AnyRole>,
    body: UploadBody<UploadForm>,
) -> Result<(StatusCode, Json<RecordRead>)> {
    let UploadBody { form, file } = body;
    let upload_uuid = form.upload_uuid;
    let fields = resolve_fields(&state, &auth, form).await?;
    let row = match (file, upload_uuid) {
        (Some(file), _) => {
            let name = file.client_name.or_else(|| fields.form.filename.clone());
            let new = store_upload(&state, &fields, &file.spooled, name, None).await?;
            match insert_record(&mut *state.db.acquire().await?, &new).await {
                Ok(row) => row,
                Err(e) => {
                    state.storage.delete_quietly(object_key(&new)).await;
                    return Err(e);
                }
            }
        }
        (None, Some(upload_uuid)) => finalise::finalise(&state, &auth, &fields, upload_uuid).await?,
        (None, None) => {
            return Err(AppError::field(FieldError::new("missing", &["body", "file"], "Field required")));
        }
    };
    Ok((StatusCode::CREATED, Json(row.into_read(&state.config))))
}
