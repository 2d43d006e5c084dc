//! Updates of records: `PUT` and the production service's `PATCH`, with who may change what.

use axum::{
    Json,
    extract::{Path, State},
};
use serde::Deserialize;
use serde_json::Value;
use uuid::Uuid;

use super::shared::{
    IntoRead, Location, LocationChange, RecordRead, check_extra_fields, check_location, load_visible, location_change,
    parse_record_id, record_not_found,
};
use crate::{
    auth::{Auth, roles::AnyRole},
    db::records::{self, Changes, RecordRow, ReviewedChange},
    domain::{MediaType, RecordStatus},
    error::{AppError, Result},
    http::{
        ValidJson, Validate, Validator,
        common::present,
        limits::{RECORD_DESCRIPTION_MAX, RECORD_STATUS_MAX, RECORD_TITLE_MAX},
    },
    state::AppState,
};

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
