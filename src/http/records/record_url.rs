//! Temporary file URLs (the production service's `GET /records/{id}/record-url`): a URL to a
//! record's file that works without a token until it expires, for players and viewers that
//! cannot send headers. On S3 it is a presigned object URL; on local storage it is a link to
//! [`signed_file`] on this service, signed with [`crate::auth::links::LinkKey`].

use std::time::Duration;

use axum::{
    Json,
    extract::{Path, State},
    http::HeaderMap,
    response::Response,
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{
    file::stream_file,
    shared::{load_visible, parse_record_id, record_not_found},
};
use crate::{
    auth::{Auth, links::LinkError, roles::AnyRole},
    error::{AppError, ErrorDetail, Result, ValidationErrorBody},
    http::{ValidQuery, Validate, Validator, limits::RECORD_URL_MINUTES_MAX},
    state::AppState,
};

/// Query of `GET /records/{id}/record-url`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RecordUrlQuery {
    /// Minutes the URL stays valid.
    #[serde(default = "default_minutes")]
    #[param(minimum = 1, maximum = 120, default = 15)]
    pub expires_minutes: i64,
}

fn default_minutes() -> i64 {
    15
}

impl Validate for RecordUrlQuery {
    fn validate(&self, v: &mut Validator) {
        v.range_i64("expires_minutes", self.expires_minutes, 1, RECORD_URL_MINUTES_MAX);
    }
}

/// A temporary URL to a record's file.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RecordUrlResponse {
    /// Reads the file without a token until `expires_at`: a presigned object URL on S3, a signed
    /// link to this API on local storage (absolute when `PUBLIC_API_BASE_URL` is set).
    pub record_url: String,
    /// When the URL stops working.
    #[serde(serialize_with = "crate::domain::time::serialize")]
    pub expires_at: DateTime<Utc>,
}

/// A temporary URL to the record's file (the caller's own record, or any for reviewers and
/// admins), valid for `expires_minutes` (1 to 120, default 15).
#[utoipa::path(get, path = "/api/v1/records/{record_id}/record-url", tag = "records", security(("HTTPBearer" = [])),
    params(("record_id" = String, Path), RecordUrlQuery),
    responses((status = 200, body = RecordUrlResponse), (status = 400, body = ErrorDetail),
        (status = 404, description = "No such record, or it has no file", body = ErrorDetail),
        (status = 422, body = ValidationErrorBody)))]
pub async fn record_url(
    State(state): State<AppState>,
    auth: Auth<AnyRole>,
    Path(record_id): Path<String>,
    ValidQuery(q): ValidQuery<RecordUrlQuery>,
) -> Result<Json<RecordUrlResponse>> {
    let uid = parse_record_id(&record_id)?;
    let row = load_visible(&state, &auth, uid).await?;
    let key = row.object_key.as_deref().ok_or_else(|| AppError::NotFound("File not found".into()))?;
    let lifetime = Duration::from_secs(q.expires_minutes as u64 * 60);
    let expires_at = Utc::now() + lifetime;
    let record_url = match state.storage.presigned_get(key, lifetime).await? {
        Some(url) => url,
        None => {
            let expires = expires_at.timestamp();
            let signature = state.links.sign(uid, expires);
            let base = state.config.storage.public_api_base_url.as_deref().unwrap_or("").trim().trim_end_matches('/');
            format!("{base}/api/v1/records/{uid}/signed-file?expires={expires}&signature={signature}")
        }
    };
    Ok(Json(RecordUrlResponse { record_url, expires_at }))
}

/// Query of a signed file link.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SignedFileQuery {
    /// Expiry of the link, seconds since the epoch.
    pub expires: i64,
    /// The link's signature.
    pub signature: String,
}

impl Validate for SignedFileQuery {
    fn validate(&self, _v: &mut Validator) {}
}

/// Streams a record's file through a link from `record-url` (local storage), without a token:
/// the link's signature is the permission. Supports `Range` as `/file` does. A link past its
/// expiry, or altered in any way, is refused with 403.
#[utoipa::path(get, path = "/api/v1/records/{record_id}/signed-file", tag = "records",
    params(("record_id" = String, Path), SignedFileQuery,
        ("Range" = Option<String>, Header, description = "bytes=start-end")),
    responses((status = 200, description = "The whole file"), (status = 206, description = "A byte range"),
        (status = 403, description = "`This link has expired` or `Invalid link signature`", body = ErrorDetail),
        (status = 404, body = ErrorDetail), (status = 416, body = ErrorDetail)))]
pub async fn signed_file(
    State(state): State<AppState>,
    Path(record_id): Path<String>,
    ValidQuery(q): ValidQuery<SignedFileQuery>,
    headers: HeaderMap,
) -> Result<Response> {
    let uid = parse_record_id(&record_id)?;
    match state.links.verify(uid, q.expires, &q.signature, Utc::now().timestamp()) {
        Ok(()) => {}
        Err(LinkError::Expired) => return Err(AppError::Forbidden("This link has expired".into())),
        Err(LinkError::BadSignature) => return Err(AppError::Forbidden("Invalid link signature".into())),
    }
    let row = crate::db::records::get(&state.db, uid).await?.ok_or_else(record_not_found)?;
    stream_file(&state, row, &headers).await
}
