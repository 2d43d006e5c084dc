//! The form of `POST /records/upload` and what becomes of its file: the record fields checked
//! and resolved, the spooled file checked against the declared media type, measured and stored
//! as an object. Used by the direct upload ([`super::upload`]) and by [`super::finalise`].

use serde::Deserialize;
use serde_json::Value;
use sqlx::PgConnection;
use uuid::Uuid;

use super::{form::UploadFormSpec, sessions::note_object_key};
use crate::storage::spool::Spooled;
use crate::{
    auth::CurrentUser,
    db::records::{NewRecord, StoredFile},
    domain::{MediaType, RecordStatus},
    error::{AppError, Result},
    http::{
        Validate, Validator,
        extract::{NUL_MESSAGE, nul_location},
        limits::{FILE_NAME_MAX, RECORD_DESCRIPTION_MAX, RECORD_TITLE_MAX, TOTAL_CHUNKS_MAX},
        records::shared::{Location, check_extra_fields, check_lat_lon, require_category_for, resolve_owner},
    },
    media,
    state::AppState,
    storage::objects::record_key,
};

/// The multipart body of `POST /records/upload`, for the documentation (the handler reads the
/// parts as they stream in; [`UploadForm`] holds the rules). Send `file` for a direct upload, or
/// `upload_uuid` (with `filename` and `total_chunks`) and no file to finish a chunked upload; the
/// latter may also be sent form-urlencoded.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct UploadRequest {
    /// Title (not blank).
    #[schema(min_length = 1, max_length = 200)]
    title: String,
    /// Description.
    #[schema(max_length = 1000)]
    description: Option<String>,
    /// Category.
    category_id: Uuid,
    /// Owner: the caller when left out; another user's id needs the admin role.
    user_id: Option<Uuid>,
    /// Kind of the file; its bytes must match.
    media_type: MediaType,
    /// The file (direct upload).
    #[schema(value_type = Option<String>, format = Binary)]
    file: Option<Vec<u8>>,
    /// Where it was recorded (with `longitude`).
    #[schema(minimum = -90.0, maximum = 90.0)]
    latitude: Option<f64>,
    /// Where it was recorded (with `latitude`).
    #[schema(minimum = -180.0, maximum = 180.0)]
    longitude: Option<f64>,
    /// Record the file name as `<uid><ext>` instead of the client's name (true/false/1/0/yes/no).
    use_uid_filename: Option<bool>,
    /// Language code or name (`te`, `telugu`, ...).
    #[schema(min_length = 1, max_length = 50)]
    language: Option<String>,
    /// Release rights (`creator`, `open`, ...).
    #[schema(min_length = 1, max_length = 50)]
    release_rights: Option<String>,
    /// A JSON document, sent as a string.
    metadata: Option<String>,
    /// The chunked upload to finish (instead of `file`).
    upload_uuid: Option<Uuid>,
    /// The file's name (chunked uploads).
    #[schema(min_length = 1, max_length = 255)]
    filename: Option<String>,
    /// How many chunks the chunked upload has.
    #[schema(minimum = 1, maximum = 100000)]
    total_chunks: Option<i64>,
}

/// The form fields of `POST /records/upload` (§7.1 plus what the real clients send).
#[derive(Debug, Deserialize)]
pub struct UploadForm {
    title: String,
    #[serde(default)]
    description: Option<String>,
    category_id: String,
    #[serde(default)]
    user_id: Option<String>,
    media_type: MediaType,
    #[serde(default)]
    latitude: Option<f64>,
    #[serde(default)]
    longitude: Option<f64>,
    #[serde(default)]
    use_uid_filename: Option<String>,
    #[serde(default)]
    language: Option<String>,
    #[serde(default)]
    release_rights: Option<String>,
    #[serde(default)]
    metadata: Option<String>,
    #[serde(default)]
    pub(super) upload_uuid: Option<Uuid>,
    #[serde(default)]
    pub(super) filename: Option<String>,
    #[serde(default)]
    pub(super) total_chunks: Option<i64>,
}

fn parse_bool(raw: &str) -> Option<bool> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" | "t" | "y" => Some(true),
        "false" | "0" | "no" | "off" | "f" | "n" => Some(false),
        _ => None,
    }
}

impl UploadFormSpec for UploadForm {
    const FILE_PARTS: &'static [&'static str] = &["file"];
    const URLENCODED: bool = true;
}

impl Validate for UploadForm {
    fn validate(&self, v: &mut Validator) {
        v.non_blank("title", &self.title, RECORD_TITLE_MAX);
        v.opt_str_len("description", self.description.as_deref(), 0, RECORD_DESCRIPTION_MAX);
        check_lat_lon(v, self.latitude, self.longitude);
        if let Some(raw) = &self.use_uid_filename
            && parse_bool(raw).is_none()
        {
            v.error(
                "bool_parsing",
                "use_uid_filename",
                "Input should be a valid boolean",
                Some(raw.as_str().into()),
                None,
            );
        }
        check_extra_fields(v, self.language.as_deref(), self.release_rights.as_deref());
        if let Some(raw) = &self.metadata {
            match serde_json::from_str::<Value>(raw) {
                Err(_) => v.error(
                    "json_invalid",
                    "metadata",
                    "metadata should be a JSON document",
                    Some(raw.as_str().into()),
                    None,
                ),
                Ok(doc) if nul_location(&doc).is_some() => {
                    v.error("string_nul", "metadata", NUL_MESSAGE, Some(raw.as_str().into()), None)
                }
                Ok(_) => {}
            }
        }
        v.opt_str_len("filename", self.filename.as_deref(), 1, FILE_NAME_MAX);
        if let Some(total) = self.total_chunks {
            v.range_i64("total_chunks", total, 1, TOTAL_CHUNKS_MAX);
        }
    }
}

/// The validated record fields of an upload form.
pub(super) struct UploadFields {
    owner: Uuid,
    category_id: Uuid,
    pub(super) form: UploadForm,
}

/// Resolves the owner and the category of an upload form (400/403 as for a JSON record).
pub(super) async fn resolve_fields(state: &AppState, user: &CurrentUser, form: UploadForm) -> Result<UploadFields> {
    let category_id = Uuid::parse_str(form.category_id.trim())
        .map_err(|_| AppError::BadRequest("Invalid category ID format".into()))?;
    let requested = match form.user_id.as_deref().map(str::trim) {
        Some(raw) => Some(Uuid::parse_str(raw).map_err(|_| AppError::BadRequest("Invalid user ID format".into()))?),
        None => None,
    };
    let owner = resolve_owner(state, user, requested).await?;
    require_category_for(state, user, category_id).await?;
    Ok(UploadFields { owner, category_id, form })
}

/// Checks and measures a spooled file, and stores it as an object; returns the record to write.
/// `before_put` (a resumable upload) is told the object key before anything is stored, so a
/// finalise that dies can be cleaned up after. On failure nothing is left in storage.
pub(super) async fn store_upload(
    state: &AppState,
    fields: &UploadFields,
    spooled: &Spooled,
    client_name: Option<String>,
    before_put: Option<(&mut PgConnection, Uuid)>,
) -> Result<NewRecord> {
    if spooled.size == 0 {
        return Err(AppError::BadRequest("Empty file: the upload has no content".into()));
    }
    let form = &fields.form;
    let sniffed = media::sniff_file(spooled.path(), &spooled.prefix, spooled.size)
        .await
        .map_err(|e| AppError::Internal(anyhow::Error::new(e).context("reading the spooled upload")))?;
    let ext = media::check(form.media_type, sniffed.as_ref(), client_name.as_deref())
        .map_err(|e| AppError::UnsupportedMediaType(format!("Unsupported file type: {e}")))?;
    let measured = match (form.media_type, sniffed) {
        (MediaType::Audio | MediaType::Video, Some(sniffed)) => {
            state.media.measure(spooled.path(), sniffed, spooled.size).await
        }
        _ => media::Measured::default(),
    };
    let uid = Uuid::new_v4();
    let key = record_key(form.media_type, uid, ext);
    let use_uid = form.use_uid_filename.as_deref().and_then(parse_bool).unwrap_or(false);
    let file_name = match client_name.filter(|n| !use_uid && !n.trim().is_empty()) {
        Some(name) => name.chars().take(255).collect(),
        None => format!("{uid}{ext}"),
    };
    let mime = sniffed.map(|s| s.mime);
    if let Some((db, upload_uuid)) = before_put {
        note_object_key(db, upload_uuid, &key).await?;
    }
    if let Err(e) = state.storage.put_file(&key, spooled.path(), mime).await {
        tracing::error!(error = %format!("{e:#}"), "storing an upload failed");
        state.storage.delete_quietly(&key).await;
        return Err(AppError::ServiceUnavailable("File upload failed: storage is unavailable, please retry".into()));
    }
    let location = match (form.latitude, form.longitude) {
        (Some(latitude), Some(longitude)) => Some(Location { latitude, longitude }),
        _ => None,
    };
    Ok(NewRecord {
        uid,
        user_id: fields.owner,
        category_id: fields.category_id,
        status: RecordStatus::Uploaded,
        title: form.title.clone(),
        description: form.description.clone(),
        media_type: form.media_type,
        location,
        language: form.language.clone(),
        release_rights: form.release_rights.clone(),
        metadata: form.metadata.as_deref().and_then(|m| serde_json::from_str(m).ok()),
        file: Some(StoredFile {
            key,
            file_name,
            size: spooled.size as i64,
            sha256: spooled.sha256.clone(),
            mime_type: mime.map(str::to_owned),
            duration_seconds: measured.seconds,
            duration_implausible: measured.implausible,
        }),
    })
}

/// The storage key of a record about to be written.
pub(super) fn object_key(new: &NewRecord) -> &str {
    new.file.as_ref().map(|f| f.key.as_str()).unwrap_or_default()
}
