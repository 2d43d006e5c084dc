//! What the records handlers share: the record as read from the database and as answered, the
//! rules of who sees a record and where it may be filed, and the checks of its free fields.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use crate::{
    auth::CurrentUser,
    config::Config,
    db::{accounts, categories, records},
    domain::{MediaType, RecordStatus, ReviewStatus},
    error::{AppError, FieldError, Result},
    http::{
        Validator,
        limits::{LATITUDE_MAX, LONGITUDE_MAX, RECORD_TAG_MAX},
    },
    state::AppState,
    storage::objects::file_url,
};
pub use crate::{
    db::records::{RecordRow, Visibility},
    domain::Location,
};

/// A record as every endpoint returns it: the original's `RecordRead` plus `id` (= `uid`) and
/// the fields added since.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RecordRead {
    /// Title.
    pub title: String,
    /// Description.
    pub description: Option<String>,
    /// text, audio, video, image or document.
    pub media_type: MediaType,
    /// Where the file is reached: the public object URL, or this API's `/records/{id}/file`.
    pub file_url: Option<String>,
    /// The client's original file name (kept in the database only).
    pub file_name: Option<String>,
    /// Bytes.
    pub file_size: Option<i64>,
    /// `pending`, `uploaded`, `generated`, `approved`, `rejected`, ...
    #[schema(value_type = String)]
    pub status: RecordStatus,
    /// Where it was recorded.
    pub location: Option<Location>,
    /// Whether a reviewer has decided on it.
    pub reviewed: bool,
    /// The reviewer.
    pub reviewed_by: Option<Uuid>,
    /// When it was reviewed.
    #[serde(serialize_with = "crate::domain::time::serialize_opt")]
    pub reviewed_at: Option<DateTime<Utc>>,
    /// Id.
    pub uid: Uuid,
    /// Same as `uid` (some clients read `id`).
    pub id: Uuid,
    /// Owner.
    pub user_id: Uuid,
    /// Category.
    pub category_id: Uuid,
    /// Creation time.
    #[serde(serialize_with = "crate::domain::time::serialize")]
    pub created_at: DateTime<Utc>,
    /// Last change.
    #[serde(serialize_with = "crate::domain::time::serialize")]
    pub updated_at: DateTime<Utc>,
    /// Whole seconds of audio or video, truncated; null when unknown.
    pub duration_seconds: Option<i32>,
    /// True when the file's header claimed a playing time its size cannot hold: the duration is
    /// then unknown (null) and left out of every total.
    pub duration_implausible: bool,
    /// Language code or name sent by the client (`te`, `telugu`, ...).
    pub language: Option<String>,
    /// Release rights sent by the client (`creator`, `open`, ...).
    pub release_rights: Option<String>,
    /// Free-form JSON sent by the client.
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Value>,
    /// SHA-256 of the stored bytes (hex): equal hashes are exact duplicates.
    pub content_sha256: Option<String>,
    /// The first earlier record with exactly the same bytes, if any: this one re-submits it
    /// (only the id is shown; reading that record follows the usual rules).
    pub duplicate_of: Option<Uuid>,
    /// MIME type sniffed from the stored bytes.
    pub mime_type: Option<String>,
    /// `approved` or `rejected` once reviewed.
    #[schema(value_type = Option<String>)]
    pub review_status: Option<ReviewStatus>,
    /// The reviewer's note.
    pub review_note: Option<String>,
}

/// About the bytes of one record in JSON (740 for a record without metadata and file).
const RECORD_JSON_BYTES: usize = 800;

/// A page of records (or search results) as a JSON array, written into a buffer sized for it:
/// growing one from empty copied it about ten times on a page of 100 records.
pub fn page_json<T: Serialize>(items: &[T]) -> Result<Vec<u8>> {
    let mut body = Vec::with_capacity(items.len().saturating_mul(RECORD_JSON_BYTES).saturating_add(2));
    serde_json::to_writer(&mut body, items).map_err(anyhow::Error::from)?;
    Ok(body)
}

/// The response shape of a record row.
pub trait IntoRead {
    /// The record as endpoints answer it; `file_url` is built from the object key and the
    /// configuration.
    fn into_read(self, config: &Config) -> RecordRead;
}

impl IntoRead for RecordRow {
    /// The response shape; `file_url` is built from the object key and the configuration.
    fn into_read(self, config: &Config) -> RecordRead {
        let file_url = match &self.object_key {
            Some(key) => Some(file_url(config, key, self.uid)),
            None => self.file_url.clone(),
        };
        let location = self.location();
        RecordRead {
            title: self.title,
            description: self.description,
            media_type: self.media_type,
            file_url,
            file_name: self.file_name,
            file_size: self.file_size,
            status: self.status,
            location,
            reviewed: self.reviewed,
            reviewed_by: self.reviewed_by,
            reviewed_at: self.reviewed_at,
            uid: self.uid,
            id: self.uid,
            user_id: self.user_id,
            category_id: self.category_id,
            created_at: self.created_at,
            updated_at: self.updated_at,
            duration_seconds: self.duration_seconds,
            duration_implausible: self.duration_implausible,
            language: self.language,
            release_rights: self.release_rights,
            metadata: self.metadata,
            content_sha256: self.content_sha256,
            duplicate_of: self.duplicate_of,
            mime_type: self.mime_type,
            review_status: self.review_status,
            review_note: self.review_note,
        }
    }
}

/// Parses a record id from the path: 400 `Invalid record ID format` as the original.
pub fn parse_record_id(raw: &str) -> Result<Uuid> {
    Uuid::parse_str(raw.trim()).map_err(|_| AppError::BadRequest("Invalid record ID format".into()))
}

/// 404 `Record not found`.
pub fn record_not_found() -> AppError {
    AppError::NotFound("Record not found".into())
}

/// Which records `user` may see: staff all, others their own.
pub fn visibility(user: &CurrentUser) -> Visibility {
    if user.is_staff() { Visibility::All } else { Visibility::OwnedBy(user.id) }
}

/// Loads a record the caller may see: staff see all, others their own (another's is 404, so
/// ids of other people's records are not revealed).
pub async fn load_visible(state: &AppState, user: &CurrentUser, uid: Uuid) -> Result<RecordRow> {
    records::get_visible(&state.db, uid, visibility(user)).await?.ok_or_else(record_not_found)
}

/// Top-level `latitude` and `longitude` (the official app's form): both or neither; in range.
pub fn check_lat_lon(v: &mut Validator, latitude: Option<f64>, longitude: Option<f64>) {
    match (latitude, longitude) {
        (Some(latitude), Some(longitude)) => check_point(v, "latitude", "longitude", &Location { latitude, longitude }),
        (Some(_), None) => v.error("missing", "longitude", "longitude is required when latitude is given", None, None),
        (None, Some(_)) => v.error("missing", "latitude", "latitude is required when longitude is given", None, None),
        (None, None) => {}
    }
}

/// Checks a latitude/longitude pair under `prefix` fields (`location.latitude`, `latitude`).
pub fn check_point(v: &mut Validator, lat_field: &str, lon_field: &str, point: &Location) {
    v.range_f64(lat_field, point.latitude, -LATITUDE_MAX, LATITUDE_MAX);
    v.range_f64(lon_field, point.longitude, -LONGITUDE_MAX, LONGITUDE_MAX);
}

/// Checks the free-text fields clients send with a record.
pub fn check_extra_fields(v: &mut Validator, language: Option<&str>, release_rights: Option<&str>) {
    v.opt_str_len("language", language, 1, RECORD_TAG_MAX);
    v.opt_str_len("release_rights", release_rights, 1, RECORD_TAG_MAX);
}

/// Resolves the owner of a new record: the caller, or for an admin the given user. A non-admin
/// naming someone else is refused, never silently attributed.
pub async fn resolve_owner(state: &AppState, user: &CurrentUser, requested: Option<Uuid>) -> Result<Uuid> {
    match requested {
        None => Ok(user.id),
        Some(id) if id == user.id => Ok(id),
        Some(id) if user.is_admin() => {
            if accounts::user_exists(&state.db, id).await? {
                Ok(id)
            } else {
                Err(AppError::BadRequest("User not found".into()))
            }
        }
        Some(_) => Err(AppError::Forbidden("You can only create records for yourself".into())),
    }
}

/// Checks that a new record may be filed under a category: it exists and is published. Answers
/// 400 `Category not found` as the original, for an unpublished category as for a missing one
/// (contributors cannot see unpublished categories, so their ids are not revealed either).
/// Without a caller at hand this is the rule for everyone; [`require_category_for`] lets admins
/// file under unpublished categories too.
pub async fn require_category(state: &AppState, category_id: Uuid) -> Result<()> {
    category_usable(state, category_id, false).await
}

/// [`require_category`] for `user`: admins may also use unpublished categories (they see them).
pub async fn require_category_for(state: &AppState, user: &CurrentUser, category_id: Uuid) -> Result<()> {
    category_usable(state, category_id, user.is_admin()).await
}

async fn category_usable(state: &AppState, category_id: Uuid, include_unpublished: bool) -> Result<()> {
    if categories::usable(&state.db, category_id, include_unpublished).await? {
        Ok(())
    } else {
        Err(AppError::BadRequest("Category not found".into()))
    }
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

/// A 422 on one body field (used by form parsing).
pub fn body_error(kind: &str, field: &str, msg: &str) -> AppError {
    AppError::field(FieldError::new(kind, &["body", field], msg))
}

/// Reads a record again after a write.
pub async fn reload(state: &AppState, uid: Uuid) -> Result<RecordRow> {
    records::get(&state.db, uid).await?.ok_or_else(record_not_found)
}
