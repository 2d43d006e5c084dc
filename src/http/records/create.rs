//! JSON creation of records, with the original's `generate_file` option.

use axum::{Json, extract::State, http::StatusCode};
use bytes::Bytes;
use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::shared::{
    IntoRead, Location, LocationChange, RecordRead, check_extra_fields, check_location, location_change,
    record_not_found, require_category_for, resolve_owner,
};
use crate::{
    auth::{Auth, roles::AnyRole},
    db::records::{self, NewRecord, RecordRow, StoredFile},
    domain::{MediaType, RecordStatus},
    error::{AppError, Result, ResultExt},
    http::{
        ValidJson, ValidQuery, Validate, Validator,
        common::present,
        limits::{RECORD_DESCRIPTION_MAX, RECORD_TITLE_MAX, SAMPLE_FILE_KB_MAX},
    },
    state::AppState,
    storage::objects::record_key,
};

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

/// Inserts a record and reads it back: 400 when its category or owner does not exist. An audio
/// or video file whose duration could not be read inline (the probe timed out, say) gets a
/// `media_facts` job, enqueued in the same transaction as the record.
pub async fn insert_record(db: &mut sqlx::PgConnection, r: &NewRecord) -> Result<RecordRow> {
    let mut tx = sqlx::Connection::begin(&mut *db).await?;
    let row = records::insert(&mut tx, r)
        .await
        .on_constraint("record_category_id_fkey", || AppError::BadRequest("Category not found".into()))
        .on_constraint("record_user_id_fkey", || AppError::BadRequest("User not found".into()))?;
    let untimed = r.file.as_ref().is_some_and(|f| f.duration_seconds.is_none() && !f.duration_implausible);
    if untimed && matches!(r.media_type, MediaType::Audio | MediaType::Video) {
        let job = crate::db::jobs::NewJob {
            kind: "media_facts",
            args: serde_json::json!({ "record_id": row.uid }),
            owner: Some(row.user_id),
            max_attempts: 2,
        };
        crate::db::jobs::enqueue(&mut *tx, &job).await?;
    }
    tx.commit().await?;
    Ok(row)
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
