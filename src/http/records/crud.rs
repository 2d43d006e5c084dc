//! List (filters, `skip`/`limit` and a keyset cursor), get, JSON create (with the original's
//! `generate_file` option), update and delete of records.

use axum::{
    Json,
    extract::{Path, State},
    http::{HeaderName, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::shared::{
    IntoRead, Location, RecordRead, check_extra_fields, check_lat_lon, check_point, load_visible, parse_record_id,
    record_not_found, require_category_for, resolve_owner, visibility,
};
use crate::{
    auth::{Auth, roles::AnyRole},
    db::records::{self, Changes, Filter, NewRecord, Page, RecordRow, ReviewedChange, StoredFile},
    domain::{MediaType, RecordStatus},
    error::{AppError, FieldError, Result, ResultExt},
    http::{
        ValidJson, ValidQuery, Validate, Validator,
        common::present,
        limits::{PAGE_MAX, RECORD_DESCRIPTION_MAX, RECORD_STATUS_MAX, RECORD_TITLE_MAX, SAMPLE_FILE_KB_MAX},
    },
    state::AppState,
    storage::objects::record_key,
};

/// Response header carrying the cursor of the next page (absent on the last page).
pub static NEXT_CURSOR: HeaderName = HeaderName::from_static("x-next-cursor");

/// Query of `GET /records/`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Only this category.
    pub category_id: Option<Uuid>,
    /// Only this owner (contributors always see only their own records).
    pub user_id: Option<Uuid>,
    /// Only this media type.
    pub media_type: Option<MediaType>,
    /// Only this status.
    #[param(value_type = Option<String>)]
    pub status: Option<RecordStatus>,
    /// Only reviewed (true) or unreviewed (false) records.
    pub reviewed: Option<bool>,
    /// Created at or after this instant (RFC 3339; without an offset, UTC).
    #[serde(default, deserialize_with = "crate::domain::time::deserialize_opt")]
    pub created_after: Option<DateTime<Utc>>,
    /// Created before this instant (RFC 3339; without an offset, UTC).
    #[serde(default, deserialize_with = "crate::domain::time::deserialize_opt")]
    pub created_before: Option<DateTime<Utc>>,
    /// Only records with exactly these bytes (SHA-256, hex): finds duplicates.
    #[param(pattern = r"^[0-9a-fA-F]{64}$")]
    pub content_sha256: Option<String>,
    /// Records to skip (ignored when `cursor` is given).
    #[serde(default)]
    #[param(minimum = 0, default = 0)]
    pub skip: i64,
    /// Page size.
    #[serde(default = "default_limit")]
    #[param(minimum = 1, maximum = 1000, default = 100)]
    pub limit: i64,
    /// Keyset cursor from the previous page's `X-Next-Cursor` header: stays fast at any depth.
    pub cursor: Option<String>,
}

fn default_limit() -> i64 {
    100
}

impl Validate for ListQuery {
    fn validate(&self, v: &mut Validator) {
        v.range_i64("skip", self.skip, 0, i64::MAX);
        v.range_i64("limit", self.limit, 1, PAGE_MAX);
        if let Some(hash) = &self.content_sha256
            && !(hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit()))
        {
            v.error(
                "value_error",
                "content_sha256",
                "Expected 64 hexadecimal characters",
                Some(hash.as_str().into()),
                None,
            );
        }
        if let Some(cursor) = &self.cursor
            && decode_cursor(cursor).is_none()
        {
            v.error("value_error", "cursor", "Invalid cursor", Some(cursor.as_str().into()), None);
        }
    }
}

/// A cursor is the sort key of the last record of a page: `<created_at µs>_<uid>`.
fn encode_cursor(created_at: DateTime<Utc>, uid: Uuid) -> String {
    format!("{}_{uid}", created_at.timestamp_micros())
}

fn decode_cursor(cursor: &str) -> Option<(DateTime<Utc>, Uuid)> {
    let (micros, uid) = cursor.split_once('_')?;
    Some((DateTime::from_timestamp_micros(micros.parse().ok()?)?, Uuid::parse_str(uid).ok()?))
}

/// Lists records, newest first, with filters and `skip`/`limit` or a keyset `cursor`.
///
/// The body is a plain JSON list, as the original's; when more records may follow, the
/// `X-Next-Cursor` header holds the `cursor` of the next page.
#[utoipa::path(get, path = "/api/v1/records/", tag = "records", security(("HTTPBearer" = [])), params(ListQuery),
    responses((status = 200, body = [RecordRead], headers(("x-next-cursor" = String, description = "Cursor of the next page"))),
        (status = 422, body = crate::error::ValidationErrorBody)))]
pub async fn list_records(
    State(state): State<AppState>,
    auth: Auth<AnyRole>,
    ValidQuery(q): ValidQuery<ListQuery>,
) -> Result<Response> {
    let filter = Filter {
        category_id: q.category_id,
        user_id: q.user_id,
        media_type: q.media_type,
        status: q.status,
        reviewed: q.reviewed,
        created_after: q.created_after,
        created_before: q.created_before,
        content_sha256: q.content_sha256.map(|hash| hash.to_ascii_lowercase()),
        ..Filter::visible(visibility(&auth))
    };
    let page = match q.cursor.as_deref().and_then(decode_cursor) {
        Some((created_at, uid)) => Page::After { created_at, uid, limit: q.limit },
        None => Page::Offset { skip: q.skip, limit: q.limit },
    };
    let rows = records::list(&state.db, &filter, page).await?;
    let next =
        (rows.len() as i64 == q.limit).then(|| rows.last().map(|r| encode_cursor(r.created_at, r.uid))).flatten();
    let body: Vec<RecordRead> = rows.into_iter().map(|r| r.into_read(&state.config)).collect();
    let mut response = Json(body).into_response();
    if let Some(next) = next.and_then(|n| HeaderValue::from_str(&n).ok()) {
        response.headers_mut().insert(NEXT_CURSOR.clone(), next);
    }
    Ok(response)
}

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

/// What a location field of a body asks for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LocationChange {
    /// Not mentioned.
    Keep,
    /// Explicitly `null`.
    Clear,
    /// A new point.
    Set(Location),
}

/// Reads a location from `location: {latitude, longitude}` or top-level `latitude`/`longitude`
/// (as the official app sends it). A half pair is reported by [`check_location`].
pub fn location_change(
    location: &Option<Option<Location>>,
    latitude: &Option<Option<f64>>,
    longitude: &Option<Option<f64>>,
) -> LocationChange {
    match (location, latitude, longitude) {
        (Some(Some(point)), _, _) => LocationChange::Set(*point),
        (_, Some(Some(latitude)), Some(Some(longitude))) => {
            LocationChange::Set(Location { latitude: *latitude, longitude: *longitude })
        }
        (Some(None), _, _) | (None, Some(None), Some(None)) => LocationChange::Clear,
        _ => LocationChange::Keep,
    }
}

/// Range checks and the half-pair rule for the location fields of a body.
pub fn check_location(
    v: &mut Validator,
    location: &Option<Option<Location>>,
    latitude: &Option<Option<f64>>,
    longitude: &Option<Option<f64>>,
) {
    if let Some(Some(point)) = location {
        check_point(v, "location.latitude", "location.longitude", point);
        return;
    }
    check_lat_lon(v, latitude.flatten(), longitude.flatten());
}

/// Body of `POST /records/`. Review fields, `status` and `file_*` are server-set: sent values are
/// ignored. `user_id` may name someone else only for an admin.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct RecordCreate {
    /// Title (not blank).
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"[^\t-\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]"
    )]
    pub title: String,
    /// Description.
    #[serde(default)]
    #[schema(max_length = 1000)]
    pub description: Option<String>,
    /// text, audio, video, image or document.
    pub media_type: MediaType,
    /// Owner; defaults to the caller.
    #[serde(default)]
    pub user_id: Option<Uuid>,
    /// Category.
    pub category_id: Uuid,
    /// Where it was recorded.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Location>)]
    pub location: Option<Option<Location>>,
    /// Top-level latitude (with `longitude`), as the official app sends it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<f64>, minimum = -90.0, maximum = 90.0)]
    pub latitude: Option<Option<f64>>,
    /// Top-level longitude (with `latitude`).
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<f64>, minimum = -180.0, maximum = 180.0)]
    pub longitude: Option<Option<f64>>,
    /// Language (`te`, `telugu`, ...).
    #[serde(default)]
    #[schema(min_length = 1, max_length = 50)]
    pub language: Option<String>,
    /// Release rights (`creator`, `open`, ...).
    #[serde(default)]
    #[schema(min_length = 1, max_length = 50)]
    pub release_rights: Option<String>,
    /// Free-form JSON.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Value>,
}

impl Validate for RecordCreate {
    fn validate(&self, v: &mut Validator) {
        v.non_blank("title", &self.title, RECORD_TITLE_MAX);
        v.opt_str_len("description", self.description.as_deref(), 0, RECORD_DESCRIPTION_MAX);
        check_location(v, &self.location, &self.latitude, &self.longitude);
        check_extra_fields(v, self.language.as_deref(), self.release_rights.as_deref());
    }
}

/// Query of `POST /records/`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CreateQuery {
    /// Generate and store a sample file for the record (the original's testing aid).
    #[serde(default)]
    #[param(default = false)]
    pub generate_file: bool,
    /// Size of the generated file in KiB.
    #[serde(default = "default_kb")]
    #[param(minimum = 1, maximum = 1000, default = 10)]
    pub file_size_kb: i64,
}

fn default_kb() -> i64 {
    10
}

impl Validate for CreateQuery {
    fn validate(&self, v: &mut Validator) {
        v.range_i64("file_size_kb", self.file_size_kb, 1, SAMPLE_FILE_KB_MAX);
    }
}

/// Inserts a record and reads it back: 400 when its category or owner does not exist.
pub async fn insert_record(db: &mut sqlx::PgConnection, r: &NewRecord) -> Result<RecordRow> {
    records::insert(db, r)
        .await
        .on_constraint("record_category_id_fkey", || AppError::BadRequest("Category not found".into()))
        .on_constraint("record_user_id_fkey", || AppError::BadRequest("User not found".into()))
}

/// Creates a record from JSON; with `generate_file=true` a sample file is generated and stored
/// (status `generated`, or `generation_failed` with the record kept, as the original).
#[utoipa::path(post, path = "/api/v1/records/", tag = "records", security(("HTTPBearer" = [])),
    params(CreateQuery), request_body = RecordCreate,
    responses((status = 201, body = RecordRead), (status = 400, body = crate::error::ErrorDetail),
        (status = 403, body = crate::error::ErrorDetail), (status = 422, body = crate::error::ValidationErrorBody)))]
pub async fn create_record(
    State(state): State<AppState>,
    auth: Auth<AnyRole>,
    ValidQuery(q): ValidQuery<CreateQuery>,
    ValidJson(body): ValidJson<RecordCreate>,
) -> Result<(StatusCode, Json<RecordRead>)> {
    let user_id = resolve_owner(&state, &auth, body.user_id).await?;
    require_category_for(&state, &auth, body.category_id).await?;
    let location = match location_change(&body.location, &body.latitude, &body.longitude) {
        LocationChange::Set(point) => Some(point),
        _ => None,
    };
    let new = NewRecord {
        uid: Uuid::new_v4(),
        user_id,
        category_id: body.category_id,
        status: if q.generate_file { RecordStatus::Generating } else { RecordStatus::Pending },
        title: body.title,
        description: body.description,
        media_type: body.media_type,
        location,
        language: body.language,
        release_rights: body.release_rights,
        metadata: body.metadata,
        file: None,
    };
    let mut row = insert_record(&mut *state.db.acquire().await?, &new).await?;
    if q.generate_file {
        row = generate_file(&state, &new, q.file_size_kb).await?;
    }
    Ok((StatusCode::CREATED, Json(row.into_read(&state.config))))
}

/// The original's sample content for a media type: (bytes, extension, content type).
pub fn sample_file(media_type: MediaType, size_kb: i64) -> (Vec<u8>, &'static str, &'static str) {
    let target = (size_kb.max(0) as usize) * 1024;
    let (header, filler, ext, content_type): (&[u8], &[u8], _, _) = match media_type {
        MediaType::Text => {
            let text = b"This is a sample text file generated for testing the Telugu corpus collection API. ";
            let mut out = text.repeat(target / text.len() + 1);
            out.truncate(target);
            return (out, ".txt", "text/plain");
        }
        MediaType::Audio => (&[0xFF, 0xFB, 0x90, 0x00], b"SAMPLE_AUDIO_DATA_", ".mp3", "audio/mpeg"),
        MediaType::Video => (&[0, 0, 0, 0x20, b'f', b't', b'y', b'p'], b"SAMPLE_VIDEO_DATA_", ".mp4", "video/mp4"),
        MediaType::Image => {
            (&[0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, b'J', b'F', b'I', b'F'], b"SAMPLE_IMAGE_DATA_", ".jpg", "image/jpeg")
        }
        MediaType::Document => (b"%PDF-1.4\n", b"SAMPLE_DOCUMENT_DATA_", ".pdf", "application/pdf"),
    };
    let mut out = header.to_vec();
    out.extend(filler.repeat(target / filler.len()));
    out.truncate(target);
    (out, ext, content_type)
}

async fn generate_file(state: &AppState, new: &NewRecord, size_kb: i64) -> Result<RecordRow> {
    let (bytes, ext, content_type) = sample_file(new.media_type, size_kb);
    let key = record_key(new.media_type, new.uid, ext);
    let size = bytes.len() as i64;
    let sha = hex::encode(Sha256::digest(&bytes));
    let stored = state.storage.put_bytes(&key, Bytes::from(bytes), Some(content_type)).await;
    let mut db = state.db.acquire().await?;
    let row = match stored {
        Ok(()) => {
            let file = StoredFile {
                key: key.clone(),
                file_name: format!("{}{ext}", new.uid),
                size,
                sha256: sha,
                mime_type: Some(content_type.to_owned()),
                duration_seconds: None,
                duration_implausible: false,
            };
            records::attach_generated_file(&mut db, new.uid, &file).await.map_err(AppError::from)
        }
        Err(e) => {
            tracing::warn!(error = %format!("{e:#}"), "sample file generation failed");
            records::set_status(&mut db, new.uid, &RecordStatus::GenerationFailed)
                .await
                .map_err(AppError::from)
                .and_then(|row| row.ok_or_else(record_not_found))
        }
    };
    if row.is_err() {
        state.storage.delete_quietly(&key).await;
    }
    row
}

/// Body of `PUT /records/{id}`: every field present is applied. `user_id`, `uid`, `file_*`,
/// `duration_seconds`, `reviewed_by` and `reviewed_at` are server-managed and ignored;
/// `status` and `reviewed` are applied for reviewers and admins only.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct RecordUpdate {
    /// New title (not null, not blank).
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = String, required = false, min_length = 1, max_length = 200, pattern = r"[^\t-\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]")]
    pub title: Option<Option<String>>,
    /// New description (`null` clears it).
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, max_length = 1000)]
    pub description: Option<Option<String>>,
    /// New media type (only while no file is stored; not null).
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = MediaType, required = false)]
    pub media_type: Option<Option<MediaType>>,
    /// New status (reviewers and admins; not null).
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = String, required = false, min_length = 1, max_length = 20)]
    pub status: Option<Option<RecordStatus>>,
    /// New location (`null` clears it).
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Location>)]
    pub location: Option<Option<Location>>,
    /// Top-level latitude (with `longitude`).
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<f64>, minimum = -90.0, maximum = 90.0)]
    pub latitude: Option<Option<f64>>,
    /// Top-level longitude (with `latitude`).
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<f64>, minimum = -180.0, maximum = 180.0)]
    pub longitude: Option<Option<f64>>,
    /// `true` marks the record reviewed by the caller, now (reviewers and admins; not null).
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = bool, required = false)]
    pub reviewed: Option<Option<bool>>,
    /// New language.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, min_length = 1, max_length = 50)]
    pub language: Option<Option<String>>,
    /// New release rights.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, min_length = 1, max_length = 50)]
    pub release_rights: Option<Option<String>>,
    /// New metadata.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Option<Value>>,
}

impl RecordUpdate {
    /// True when the body names a content field (anything but `status` and `reviewed`), even
    /// with its current value: those are the owner's (or an admin's) to change.
    pub fn changes_content(&self) -> bool {
        self.title.is_some()
            || self.description.is_some()
            || self.media_type.is_some()
            || self.location.is_some()
            || self.latitude.is_some()
            || self.longitude.is_some()
            || self.language.is_some()
            || self.release_rights.is_some()
            || self.metadata.is_some()
    }
}

impl Validate for RecordUpdate {
    fn validate(&self, v: &mut Validator) {
        let null =
            |v: &mut Validator, field: &str| v.error("missing", field, "Field cannot be null", Some(Value::Null), None);
        match &self.title {
            Some(Some(t)) => v.non_blank("title", t, RECORD_TITLE_MAX),
            Some(None) => null(v, "title"),
            None => {}
        }
        if let Some(Some(d)) = &self.description {
            v.str_len("description", d, 0, RECORD_DESCRIPTION_MAX);
        }
        if matches!(self.media_type, Some(None)) {
            null(v, "media_type");
        }
        match &self.status {
            Some(Some(s)) => v.str_len("status", s.as_str(), 1, RECORD_STATUS_MAX),
            Some(None) => null(v, "status"),
            None => {}
        }
        if matches!(self.reviewed, Some(None)) {
            null(v, "reviewed");
        }
        check_location(v, &self.location, &self.latitude, &self.longitude);
        check_extra_fields(
            v,
            self.language.clone().flatten().as_deref(),
            self.release_rights.clone().flatten().as_deref(),
        );
    }
}

/// Updates a record: the owner (or an admin) edits its content; reviewers and admins also set
/// `status` and `reviewed` (which stamps `reviewed_by` = caller and `reviewed_at` = now). A
/// reviewer naming a content field of someone else's record gets 403.
#[utoipa::path(put, path = "/api/v1/records/{record_id}", tag = "records", security(("HTTPBearer" = [])),
    params(("record_id" = String, Path)), request_body = RecordUpdate,
    responses((status = 200, body = RecordRead), (status = 400, body = crate::error::ErrorDetail),
        (status = 403, body = crate::error::ErrorDetail), (status = 404, body = crate::error::ErrorDetail),
        (status = 409, body = crate::error::ErrorDetail), (status = 422, body = crate::error::ValidationErrorBody)))]
pub async fn update_record(
    State(state): State<AppState>,
    auth: Auth<AnyRole>,
    Path(record_id): Path<String>,
    ValidJson(body): ValidJson<RecordUpdate>,
) -> Result<Json<RecordRead>> {
    let uid = parse_record_id(&record_id)?;
    let current = load_visible(&state, &auth, uid).await?;
    let staff = auth.is_staff();
    // Reviewers review: on someone else's record they may set `status` and `reviewed` only.
    if !auth.is_admin() && current.user_id != auth.id && body.changes_content() {
        return Err(AppError::Forbidden(
            "Only the record's owner or an admin can change its content; reviewers may set status and reviewed only"
                .into(),
        ));
    }

    let changes = record_changes(&body, &current, auth.id, staff)?;
    let row = records::update(&mut *state.db.acquire().await?, uid, &changes).await?;
    Ok(Json(row.ok_or_else(record_not_found)?.into_read(&state.config)))
}

/// The production service's partial update: the same fields and rules as `PUT` (which also
/// applies only the fields given).
#[utoipa::path(patch, path = "/api/v1/records/{record_id}", tag = "records", security(("HTTPBearer" = [])),
    params(("record_id" = String, Path)), request_body = RecordUpdate,
    responses((status = 200, body = RecordRead), (status = 400, body = crate::error::ErrorDetail),
        (status = 403, body = crate::error::ErrorDetail), (status = 404, body = crate::error::ErrorDetail),
        (status = 409, body = crate::error::ErrorDetail), (status = 422, body = crate::error::ValidationErrorBody)))]
pub async fn patch_record(
    state: State<AppState>,
    auth: Auth<AnyRole>,
    record_id: Path<String>,
    body: ValidJson<RecordUpdate>,
) -> Result<Json<RecordRead>> {
    update_record(state, auth, record_id, body).await
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

/// A 422 on one body field (used by form parsing).
pub fn body_error(kind: &str, field: &str, msg: &str) -> AppError {
    AppError::field(FieldError::new(kind, &["body", field], msg))
}

/// Reads a record again after a write.
pub async fn reload(state: &AppState, uid: Uuid) -> Result<RecordRow> {
    records::get(&state.db, uid).await?.ok_or_else(record_not_found)
}

/// The changes a `PUT` body asks for, as the caller may make them: `status` and `reviewed` only
/// for staff; a media type change only while no file is stored (409).
fn record_changes(body: &RecordUpdate, current: &RecordRow, caller: Uuid, staff: bool) -> Result<Changes> {
    let media_type = match body.media_type.flatten() {
        Some(media_type) if media_type != current.media_type => {
            if current.object_key.is_some() {
                return Err(AppError::Conflict("The media type of a record with a stored file cannot change".into()));
            }
            Some(media_type)
        }
        _ => None,
    };
    let location = match location_change(&body.location, &body.latitude, &body.longitude) {
        LocationChange::Set(point) => Some(Some(point)),
        LocationChange::Clear => Some(None),
        LocationChange::Keep => None,
    };
    let status = if staff { body.status.clone().flatten() } else { None };
    let reviewed = match body.reviewed.flatten() {
        Some(true) if staff => {
            Some(ReviewedChange::Reviewed { by: caller, decision: status.as_ref().and_then(RecordStatus::decision) })
        }
        Some(false) if staff => Some(ReviewedChange::Unreviewed),
        _ => None,
    };
    Ok(Changes {
        title: body.title.clone().flatten(),
        description: body.description.clone(),
        media_type,
        location,
        language: body.language.clone(),
        release_rights: body.release_rights.clone(),
        metadata: body.metadata.clone(),
        status,
        reviewed,
    })
}
