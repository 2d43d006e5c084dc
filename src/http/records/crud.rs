//! One record: read and delete.

use axum::{
    Json,
    extract::{Path, State},
};

use super::shared::{IntoRead, RecordRead, load_visible, parse_record_id, record_not_found};
use crate::{
    auth::{Auth, roles::AnyRole},
    db::records,
    error::{AppError, Result},
    state::AppState,
};

/// One record (the caller's own, or any for reviewers and admins).
#[utoipa::path(get, path = "/api/v1/records/{record_id}", tag = "records", security(("HTTPBearer" = [])),
    params(("record_id" = String, Path)),
    responses((status = 200, body = RecordRead), (status = 400, body = crate::error::ErrorDetail),
        (status = 404, body = crate::error::ErrorDetail)))]
pub async fn get_record(
    State(state): State<AppState>,
    auth: Auth<AnyRole>,
    Path(record_id): Path<String>,
) -> Result<Json<RecordRead>> {
    let uid = parse_record_id(&record_id)?;
    Ok(Json(load_visible(&state, &auth, uid).await?.into_read(&state.config)))
}

/// Deletes a record (its owner or an admin) and its stored object.
#[utoipa::path(delete, path = "/api/v1/records/{record_id}", tag = "records", security(("HTTPBearer" = [])),
    params(("record_id" = String, Path)),
    responses((status = 200, body = crate::http::common::MessageResponse),
        (status = 400, body = crate::error::ErrorDetail), (status = 403, body = crate::error::ErrorDetail),
        (status = 404, body = crate::error::ErrorDetail)))]
pub async fn delete_record(
    State(state): State<AppState>,
    auth: Auth<AnyRole>,
    Path(record_id): Path<String>,
) -> Result<Json<crate::http::common::MessageResponse>> {
    let uid = parse_record_id(&record_id)?;
    let row = load_visible(&state, &auth, uid).await?;
    if !auth.is_admin() && row.user_id != auth.id {
        return Err(AppError::Forbidden("Only the record's owner or an admin can delete it".into()));
    }
    let deleted = records::delete(&state.db, uid).await?;
    let Some(key) = deleted else { return Err(record_not_found()) };
    // The row goes first: a failed object delete leaves an orphan for `storage` cleanup, never a
    // record pointing at nothing.
    if let Some(key) = key {
        state.storage.delete_quietly(&key).await;
    }
    Ok(Json(crate::http::common::MessageResponse { message: "Record deleted successfully".into() }))
}
