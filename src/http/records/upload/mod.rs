//! Uploads: direct (`POST /records/upload` with a `file` part) and resumable, the way the real
//! clients do it (`POST /records/upload/chunk` per chunk, then `POST /records/upload` with
//! `upload_uuid` and no file part).
//!
//! Bytes are never held whole in memory: they are spooled to a temporary file while they arrive
//! (hashing them and enforcing `MAX_FILE_SIZE` → 413 on the way), checked against the declared
//! media type (415), measured, then streamed to storage. The record row is written last, and the
//! object is removed again if that fails, so a failure leaves neither a row nor an object.
//! Chunks wait in object storage under `uploads/<upload_uuid>/<index>`, so any replica can
//! finalise, and abandoned ones are swept after `UPLOAD_SESSION_TTL_MINUTES`.

use std::time::Duration;

use axum::{
    Json,
    extract::{FromRequest, Multipart, Path, Request, State, multipart::Field},
    http::{StatusCode, header},
};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::io::AsyncWriteExt;
use uuid::Uuid;

use super::{
    Location, RecordRead, RecordRow, check_extra_fields, check_lat_lon,
    crud::{NewRecord, StoredFile, insert_record, reload},
    require_category, resolve_owner,
};
use crate::{
    auth::{Auth, CurrentUser, roles::AnyRole},
    domain::MediaType,
    error::{AppError, FieldError, Result},
    http::{
        Validate, Validator,
        extract::{NUL_MESSAGE, nul_location, parse_urlencoded},
    },
    media::{self, ContentDigest},
    state::AppState,
    storage::objects::{chunk_key, chunk_prefix, record_key},
};

/// Bytes of a file kept in memory for sniffing its type.
const SNIFF_LEN: usize = 8192;
/// Room for the form fields and multipart framing around the file itself.
const FORM_OVERHEAD: u64 = 1024 * 1024;
/// Largest text field accepted in a multipart form.
const MAX_TEXT_FIELD: usize = 256 * 1024;
/// A finalisation older than this is taken to have crashed and may be taken over.
const FINALISE_STALE_MINUTES: i32 = 30;

/// A file spooled to a temporary file, with the facts gathered on the way.
pub struct Spooled {
    file: tempfile::NamedTempFile,
    size: u64,
    sha256: String,
    prefix: Vec<u8>,
}

/// Writes arriving bytes to a temporary file, hashing them and enforcing a size limit.
struct Spooler {
    file: tempfile::NamedTempFile,
    out: tokio::fs::File,
    size: u64,
    max: u64,
    digest: ContentDigest,
    prefix: Vec<u8>,
}

fn too_large(max: u64) -> AppError {
    AppError::PayloadTooLarge(format!("File too large: the limit is {max} bytes"))
}

impl Spooler {
    fn new(max: u64, dir: Option<&std::path::Path>) -> Result<Self> {
        let builder = tempfile::Builder::new().prefix("corpus-upload-").clone();
        let file = match dir {
            Some(dir) => builder.tempfile_in(dir),
            None => builder.tempfile(),
        }
        .map_err(|e| AppError::Internal(anyhow::Error::new(e).context("creating a temporary file")))?;
        let out = file.reopen().map_err(|e| AppError::Internal(e.into()))?;
        Ok(Self {
            file,
            out: tokio::fs::File::from_std(out),
            size: 0,
            max,
            digest: ContentDigest::new(),
            prefix: Vec::new(),
        })
    }

    async fn write(&mut self, bytes: &[u8]) -> Result<()> {
        self.size += bytes.len() as u64;
        if self.size > self.max {
            return Err(too_large(self.max));
        }
        self.digest.update(bytes);
        if self.prefix.len() < SNIFF_LEN {
            let take = (SNIFF_LEN - self.prefix.len()).min(bytes.len());
            self.prefix.extend_from_slice(&bytes[..take]);
        }
        self.out
            .write_all(bytes)
            .await
            .map_err(|e| AppError::Internal(anyhow::Error::new(e).context("spooling an upload")))
    }

    async fn finish(mut self) -> Result<Spooled> {
        self.out.flush().await.map_err(|e| AppError::Internal(e.into()))?;
        Ok(Spooled { file: self.file, size: self.size, sha256: self.digest.finish(), prefix: self.prefix })
    }
}

fn body_parse_error() -> AppError {
    AppError::BadRequest("There was an error parsing the body".into())
}

async fn spool_field(field: &mut Field<'_>, max: u64, dir: Option<&std::path::Path>) -> Result<Spooled> {
    let mut spooler = Spooler::new(max, dir)?;
    while let Some(chunk) = field
        .chunk()
        .await
        .map_err(|e| if e.status() == StatusCode::PAYLOAD_TOO_LARGE { too_large(max) } else { body_parse_error() })?
    {
        spooler.write(&chunk).await?;
    }
    spooler.finish().await
}

async fn read_text(field: &mut Field<'_>) -> Result<String> {
    let mut buf = Vec::new();
    while let Some(chunk) = field.chunk().await.map_err(|_| body_parse_error())? {
        buf.extend_from_slice(&chunk);
        if buf.len() > MAX_TEXT_FIELD {
            return Err(AppError::PayloadTooLarge("A form field is too large".into()));
        }
    }
    String::from_utf8(buf).map_err(|_| AppError::BadRequest("Form fields must be UTF-8 text".into()))
}

/// The client's file name as recorded: percent-decoded where needed, without control characters
/// (which no real name has, and PostgreSQL cannot store NUL).
fn decode_file_name(raw: &str) -> String {
    percent_decode_file_name(raw).chars().filter(|c| !c.is_control()).collect()
}

/// Some clients percent-encode non-ASCII file names inside the quotes; decode those (only when
/// the result is valid UTF-8 that really needed encoding), keep every other name as sent.
fn percent_decode_file_name(raw: &str) -> String {
    if !raw.is_ascii() || !raw.contains('%') {
        return raw.to_owned();
    }
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(b) = u8::from_str_radix(std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz"), 16)
        {
            out.push(b);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    match String::from_utf8(out) {
        Ok(decoded) if !decoded.is_ascii() => decoded,
        _ => raw.to_owned(),
    }
}

/// A multipart body, or 400/415 in the API's error shape.
async fn multipart(request: Request, state: &AppState) -> Result<Multipart> {
    Multipart::from_request(request, state)
        .await
        .map_err(|e| AppError::field(FieldError::new("multipart_type", &["body"], e.body_text())))
}

/// Refuses a body whose declared length is over the limit before reading any of it.
fn check_declared_length(request: &Request, max: u64) -> Result<()> {
    let declared =
        request.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    match declared {
        Some(len) if len > max.saturating_add(FORM_OVERHEAD) => Err(too_large(max)),
        _ => Ok(()),
    }
}

fn encode_pairs(pairs: &[(String, String)]) -> Vec<u8> {
    form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish().into_bytes()
}

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
    upload_uuid: Option<Uuid>,
    #[serde(default)]
    filename: Option<String>,
    #[serde(default)]
    total_chunks: Option<i64>,
}

fn parse_bool(raw: &str) -> Option<bool> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" | "t" | "y" => Some(true),
        "false" | "0" | "no" | "off" | "f" | "n" => Some(false),
        _ => None,
    }
}

impl Validate for UploadForm {
    fn validate(&self, v: &mut Validator) {
        v.non_blank("title", &self.title, 200);
        v.opt_str_len("description", self.description.as_deref(), 0, 1000);
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
        v.opt_str_len("filename", self.filename.as_deref(), 1, 255);
        if let Some(total) = self.total_chunks {
            v.range_i64("total_chunks", total, 1, 100_000);
        }
    }
}

/// The validated record fields of an upload form.
struct UploadFields {
    owner: Uuid,
    category_id: Uuid,
    form: UploadForm,
}

async fn resolve_fields(state: &AppState, user: &CurrentUser, form: UploadForm) -> Result<UploadFields> {
    let category_id = Uuid::parse_str(form.category_id.trim())
        .map_err(|_| AppError::BadRequest("Invalid category ID format".into()))?;
    let requested = match form.user_id.as_deref().map(str::trim) {
        Some(raw) => Some(Uuid::parse_str(raw).map_err(|_| AppError::BadRequest("Invalid user ID format".into()))?),
        None => None,
    };
    let owner = resolve_owner(state, user, requested).await?;
    require_category(state, category_id).await?;
    Ok(UploadFields { owner, category_id, form })
}

/// Checks, measures and stores a spooled file, then writes its record. On any failure nothing
/// is left behind: the object is stored before the row and removed again if the row fails.
async fn store_upload(
    state: &AppState,
    fields: &UploadFields,
    spooled: Spooled,
    client_name: Option<String>,
) -> Result<RecordRow> {
    if spooled.size == 0 {
        return Err(AppError::BadRequest("Empty file: the upload has no content".into()));
    }
    let form = &fields.form;
    let sniffed = media::sniff(&spooled.prefix);
    let ext = media::check(form.media_type, sniffed.as_ref(), client_name.as_deref())
        .map_err(|e| AppError::UnsupportedMediaType(format!("Unsupported file type: {e}")))?;
    let duration_seconds = match (form.media_type, sniffed) {
        (MediaType::Audio | MediaType::Video, Some(sniffed)) => {
            let path = spooled.file.path().to_owned();
            tokio::task::spawn_blocking(move || media::duration_seconds(&path, &sniffed)).await.ok().flatten()
        }
        _ => None,
    };
    let uid = Uuid::new_v4();
    let key = record_key(form.media_type, uid, ext);
    let use_uid = form.use_uid_filename.as_deref().and_then(parse_bool).unwrap_or(false);
    let file_name = match client_name.filter(|n| !use_uid && !n.trim().is_empty()) {
        Some(name) => name.chars().take(255).collect(),
        None => format!("{uid}{ext}"),
    };
    let mime = sniffed.map(|s| s.mime);
    if let Err(e) = state.storage.put_file(&key, spooled.file.path(), mime).await {
        tracing::error!(error = %format!("{e:#}"), "storing an upload failed");
        state.storage.delete_quietly(&key).await;
        return Err(AppError::ServiceUnavailable("File upload failed: storage is unavailable, please retry".into()));
    }
    let location = match (form.latitude, form.longitude) {
        (Some(latitude), Some(longitude)) => Some(Location { latitude, longitude }),
        _ => None,
    };
    let new = NewRecord {
        uid,
        user_id: fields.owner,
        category_id: fields.category_id,
        status: "uploaded",
        title: form.title.clone(),
        description: form.description.clone(),
        media_type: form.media_type,
        location,
        language: form.language.clone(),
        release_rights: form.release_rights.clone(),
        metadata: form.metadata.as_deref().and_then(|m| serde_json::from_str(m).ok()),
        file: Some(StoredFile {
            key: key.clone(),
            file_name,
            size: spooled.size as i64,
            sha256: spooled.sha256,
            mime_type: mime.map(str::to_owned),
            duration_seconds,
        }),
    };
    match insert_record(&state.db, &new).await {
        Ok(row) => Ok(row),
        Err(e) => {
            state.storage.delete_quietly(&key).await;
            Err(e)
        }
    }
}

/// Direct upload (multipart with a `file` part), or finalisation of a chunked upload
/// (`upload_uuid` without a file part, multipart or form-urlencoded). Answers 201 with the record.
#[utoipa::path(post, path = "/api/v1/records/upload", tag = "records", security(("HTTPBearer" = [])),
    request_body(content = UploadRequest, content_type = "multipart/form-data",
        description = "A direct upload (`file`), or the end of a chunked upload (`upload_uuid`, no file; may also be form-urlencoded)"),
    responses((status = 201, body = RecordRead), (status = 400, body = crate::http::docs::ErrorDetail),
        (status = 403, body = crate::http::docs::ErrorDetail), (status = 413, body = crate::http::docs::ErrorDetail),
        (status = 415, body = crate::http::docs::ErrorDetail), (status = 422, body = crate::http::docs::ValidationErrorBody)))]
pub async fn upload(
    State(state): State<AppState>,
    auth: Auth<AnyRole>,
    request: Request,
) -> Result<(StatusCode, Json<RecordRead>)> {
    let max = state.config.max_file_size;
    check_declared_length(&request, max)?;
    let content_type =
        request.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_ascii_lowercase();
    let mut pairs = Vec::new();
    let mut file: Option<(Spooled, Option<String>)> = None;
    if content_type.starts_with("application/x-www-form-urlencoded") {
        let body = axum::body::to_bytes(request.into_body(), MAX_TEXT_FIELD * 8)
            .await
            .map_err(|_| AppError::PayloadTooLarge("Form too large".into()))?;
        pairs = form_urlencoded::parse(&body).map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
    } else {
        let mut mp = multipart(request, &state).await?;
        while let Some(mut field) = mp.next_field().await.map_err(|_| body_parse_error())? {
            let name = field.name().unwrap_or("").to_owned();
            if name == "file" && file.is_none() {
                let client_name = field.file_name().filter(|n| !n.is_empty()).map(decode_file_name);
                file = Some((spool_field(&mut field, max, state.config.upload_tmp_dir.as_deref()).await?, client_name));
            } else {
                let value = read_text(&mut field).await?;
                pairs.push((name, value));
            }
        }
    }
    let form: UploadForm = parse_urlencoded("body", &encode_pairs(&pairs))?;
    Validator::check("body", &form)?;
    let upload_uuid = form.upload_uuid;
    let fields = resolve_fields(&state, &auth, form).await?;
    let row = match (file, upload_uuid) {
        (Some((spooled, client_name)), _) => {
            let name = client_name.or_else(|| fields.form.filename.clone());
            store_upload(&state, &fields, spooled, name).await?
        }
        (None, Some(upload_uuid)) => finalise(&state, &auth, &fields, upload_uuid).await?,
        (None, None) => {
            return Err(AppError::field(FieldError::new("missing", &["body", "file"], "Field required")));
        }
    };
    Ok((StatusCode::CREATED, Json(row.into_read(&state.config))))
}

#[derive(sqlx::FromRow)]
struct SessionRow {
    user_id: Uuid,
    filename: String,
    total_chunks: i32,
    record_uid: Option<Uuid>,
}

async fn load_session(state: &AppState, user: &CurrentUser, upload_uuid: Uuid) -> Result<Option<SessionRow>> {
    let session = sqlx::query_as::<_, SessionRow>(
        "SELECT user_id, filename, total_chunks, record_uid FROM upload_session WHERE upload_uuid = $1",
    )
    .bind(upload_uuid)
    .fetch_optional(&state.db)
    .await?;
    // Someone else's upload is answered like a missing one (as someone else's record is), so an
    // upload id reveals nothing about its owner.
    Ok(session.filter(|s| s.user_id == user.id))
}

async fn finalise(state: &AppState, user: &CurrentUser, fields: &UploadFields, upload_uuid: Uuid) -> Result<RecordRow> {
    let session =
        load_session(state, user, upload_uuid).await?.ok_or_else(|| AppError::NotFound("Upload not found".into()))?;
    // A re-sent finalise (the answer was lost on a dropped connection) gets the same record.
    if let Some(uid) = session.record_uid {
        return reload(state, uid).await;
    }
    if let Some(total) = fields.form.total_chunks
        && total != i64::from(session.total_chunks)
    {
        return Err(AppError::Conflict(format!(
            "total_chunks {total} does not match the upload's {} chunks",
            session.total_chunks
        )));
    }
    let claimed = sqlx::query(
        "UPDATE upload_session SET finalising_since = now()
         WHERE upload_uuid = $1 AND record_uid IS NULL
           AND (finalising_since IS NULL OR finalising_since < now() - make_interval(mins => $2))",
    )
    .bind(upload_uuid)
    .bind(FINALISE_STALE_MINUTES)
    .execute(&state.db)
    .await?;
    if claimed.rows_affected() == 0 {
        return Err(AppError::Conflict("This upload is already being finalised".into()));
    }
    let result = assemble_and_store(state, fields, upload_uuid, &session).await;
    match &result {
        Ok(row) => {
            sqlx::query("UPDATE upload_session SET record_uid = $2, finalising_since = NULL, updated_at = now() WHERE upload_uuid = $1")
                .bind(upload_uuid)
                .bind(row.uid())
                .execute(&state.db)
                .await?;
            sqlx::query("DELETE FROM upload_chunk WHERE upload_uuid = $1").bind(upload_uuid).execute(&state.db).await?;
            if let Err(e) = state.storage.delete_prefix(&chunk_prefix(upload_uuid)).await {
                tracing::warn!(error = %format!("{e:#}"), "could not delete the chunks of a finished upload");
            }
        }
        Err(_) => {
            // The chunks stay, so the client can fix the problem and finalise again.
            sqlx::query("UPDATE upload_session SET finalising_since = NULL WHERE upload_uuid = $1")
                .bind(upload_uuid)
                .execute(&state.db)
                .await?;
        }
    }
    result
}

async fn assemble_and_store(
    state: &AppState,
    fields: &UploadFields,
    upload_uuid: Uuid,
    session: &SessionRow,
) -> Result<RecordRow> {
    let received: Vec<i32> =
        sqlx::query_scalar("SELECT chunk_index FROM upload_chunk WHERE upload_uuid = $1 ORDER BY chunk_index")
            .bind(upload_uuid)
            .fetch_all(&state.db)
            .await?;
    let missing: Vec<i32> = (0..session.total_chunks).filter(|i| received.binary_search(i).is_err()).collect();
    if !missing.is_empty() {
        let shown: Vec<String> = missing.iter().take(50).map(i32::to_string).collect();
        return Err(AppError::BadRequest(format!("Upload incomplete: missing chunks [{}]", shown.join(", "))));
    }
    let mut spooler = Spooler::new(state.config.max_file_size, state.config.upload_tmp_dir.as_deref())?;
    for index in 0..session.total_chunks {
        let key = chunk_key(upload_uuid, index);
        let object = state.storage.get(&key, None).await.map_err(|e| {
            AppError::Internal(anyhow::Error::new(e).context(format!("reading chunk {index} of an upload")))
        })?;
        let mut stream = object.into_stream();
        while let Some(bytes) = stream.next().await {
            let bytes = bytes.map_err(|e| AppError::Internal(anyhow::Error::new(e).context("reading a chunk")))?;
            spooler.write(&bytes).await?;
        }
    }
    let spooled = spooler.finish().await?;
    let name = fields.form.filename.clone().unwrap_or_else(|| session.filename.clone());
    store_upload(state, fields, spooled, Some(decode_file_name(&name))).await
}

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

#[derive(Debug, Deserialize)]
struct ChunkForm {
    upload_uuid: Uuid,
    chunk_index: i64,
    total_chunks: i64,
    #[serde(default)]
    filename: Option<String>,
}

impl Validate for ChunkForm {
    fn validate(&self, v: &mut Validator) {
        v.range_i64("total_chunks", self.total_chunks, 1, 100_000);
        v.range_i64("chunk_index", self.chunk_index, 0, (self.total_chunks - 1).max(0));
        v.opt_str_len("filename", self.filename.as_deref(), 1, 255);
    }
}

/// Stores one chunk of a resumable upload (multipart `chunk` or `file`, `filename`,
/// `chunk_index` from 0, `total_chunks`, `upload_uuid` chosen by the client). Chunks may come in
/// any order; re-sending one is harmless. The upload belongs to whoever sent its first chunk.
#[utoipa::path(post, path = "/api/v1/records/upload/chunk", tag = "records", security(("HTTPBearer" = [])),
    request_body(content = ChunkRequest, content_type = "multipart/form-data"),
    responses((status = 200, body = ChunkResponse), (status = 400, body = crate::http::docs::ErrorDetail),
        (status = 403, body = crate::http::docs::ErrorDetail), (status = 409, body = crate::http::docs::ErrorDetail),
        (status = 413, body = crate::http::docs::ErrorDetail), (status = 422, body = crate::http::docs::ValidationErrorBody)))]
pub async fn upload_chunk(
    State(state): State<AppState>,
    auth: Auth<AnyRole>,
    request: Request,
) -> Result<Json<ChunkResponse>> {
    let max = state.config.max_file_size;
    check_declared_length(&request, max)?;
    let mut mp = multipart(request, &state).await?;
    let mut pairs = Vec::new();
    let mut chunk: Option<(Spooled, Option<String>)> = None;
    while let Some(mut field) = mp.next_field().await.map_err(|_| body_parse_error())? {
        let name = field.name().unwrap_or("").to_owned();
        if (name == "chunk" || name == "file") && chunk.is_none() {
            let client_name = field.file_name().filter(|n| !n.is_empty()).map(decode_file_name);
            chunk = Some((spool_field(&mut field, max, state.config.upload_tmp_dir.as_deref()).await?, client_name));
        } else {
            let value = read_text(&mut field).await?;
            pairs.push((name, value));
        }
    }
    let form: ChunkForm = parse_urlencoded("body", &encode_pairs(&pairs))?;
    Validator::check("body", &form)?;
    let Some((spooled, part_name)) = chunk else {
        return Err(AppError::field(FieldError::new("missing", &["body", "chunk"], "Field required")));
    };
    if spooled.size == 0 {
        return Err(AppError::BadRequest("Empty chunk".into()));
    }
    let (index, total) = (form.chunk_index as i32, form.total_chunks as i32);
    let filename: String = form.filename.or(part_name).unwrap_or_else(|| "upload".into()).chars().take(255).collect();

    sqlx::query(
        "INSERT INTO upload_session (upload_uuid, user_id, filename, total_chunks) VALUES ($1, $2, $3, $4)
         ON CONFLICT (upload_uuid) DO NOTHING",
    )
    .bind(form.upload_uuid)
    .bind(auth.id)
    .bind(&filename)
    .bind(total)
    .execute(&state.db)
    .await?;
    let session = load_session(&state, &auth, form.upload_uuid)
        .await?
        .ok_or_else(|| AppError::NotFound("Upload not found".into()))?;
    if session.record_uid.is_some() {
        return Err(AppError::Conflict("This upload is already complete".into()));
    }
    if session.total_chunks != total {
        return Err(AppError::Conflict(format!(
            "total_chunks {total} does not match the upload's {} chunks",
            session.total_chunks
        )));
    }
    let (others, existing): (i64, Option<String>) = sqlx::query_as(
        "SELECT COALESCE(sum(size) FILTER (WHERE chunk_index <> $2), 0)::bigint,
                max(sha256) FILTER (WHERE chunk_index = $2)
         FROM upload_chunk WHERE upload_uuid = $1",
    )
    .bind(form.upload_uuid)
    .bind(index)
    .fetch_one(&state.db)
    .await?;
    if others as u64 + spooled.size > max {
        return Err(too_large(max));
    }
    // A re-sent chunk with the same bytes is already stored; different bytes replace it.
    if existing.as_deref() != Some(spooled.sha256.as_str()) {
        state.storage.put_file(&chunk_key(form.upload_uuid, index), spooled.file.path(), None).await.map_err(|e| {
            tracing::error!(error = %format!("{e:#}"), "storing a chunk failed");
            AppError::ServiceUnavailable("Chunk upload failed: storage is unavailable, please retry".into())
        })?;
        sqlx::query(
            "INSERT INTO upload_chunk (upload_uuid, chunk_index, size, sha256) VALUES ($1, $2, $3, $4)
             ON CONFLICT (upload_uuid, chunk_index) DO UPDATE SET size = EXCLUDED.size, sha256 = EXCLUDED.sha256, received_at = now()",
        )
        .bind(form.upload_uuid)
        .bind(index)
        .bind(spooled.size as i64)
        .bind(&spooled.sha256)
        .execute(&state.db)
        .await?;
    }
    let received: i64 = sqlx::query_scalar(
        "WITH touched AS (UPDATE upload_session SET updated_at = now() WHERE upload_uuid = $1)
         SELECT count(*) FROM upload_chunk WHERE upload_uuid = $1",
    )
    .bind(form.upload_uuid)
    .fetch_one(&state.db)
    .await?;
    Ok(Json(ChunkResponse {
        message: "Chunk uploaded successfully".into(),
        upload_uuid: form.upload_uuid,
        chunk_index: index,
        total_chunks: total,
        received_chunks: received,
        complete: received == i64::from(total),
    }))
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
    responses((status = 200, body = UploadStatus), (status = 403, body = crate::http::docs::ErrorDetail),
        (status = 404, body = crate::http::docs::ErrorDetail)))]
pub async fn upload_status(
    State(state): State<AppState>,
    auth: Auth<AnyRole>,
    Path(upload_uuid): Path<String>,
) -> Result<Json<UploadStatus>> {
    let not_found = || AppError::NotFound("Upload not found".into());
    let upload_uuid = Uuid::parse_str(upload_uuid.trim()).map_err(|_| not_found())?;
    let session = load_session(&state, &auth, upload_uuid).await?.ok_or_else(not_found)?;
    let chunks: Vec<(i32, i64)> =
        sqlx::query_as("SELECT chunk_index, size FROM upload_chunk WHERE upload_uuid = $1 ORDER BY chunk_index")
            .bind(upload_uuid)
            .fetch_all(&state.db)
            .await?;
    let received: Vec<i32> = chunks.iter().map(|c| c.0).collect();
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
        received_bytes: chunks.iter().map(|c| c.1).sum(),
        received_chunks: received,
        missing_chunks: missing,
        record_uid: session.record_uid,
    }))
}

/// Deletes resumable uploads untouched for longer than `older_than` (their chunk objects and
/// rows), and the bookkeeping of finished ones. Records are never touched. Returns how many
/// uploads were removed.
pub async fn cleanup_abandoned_uploads(state: &AppState, older_than: Duration) -> anyhow::Result<u64> {
    let ids: Vec<Uuid> = sqlx::query_scalar(
        "SELECT upload_uuid FROM upload_session
         WHERE updated_at < now() - make_interval(secs => $1)
           AND (finalising_since IS NULL OR finalising_since < now() - make_interval(mins => $2))",
    )
    .bind(older_than.as_secs_f64())
    .bind(FINALISE_STALE_MINUTES)
    .fetch_all(&state.db)
    .await?;
    let mut removed = 0;
    for id in ids {
        // Objects first: a row without objects is harmless, objects without a row are orphans.
        state.storage.delete_prefix(&chunk_prefix(id)).await?;
        removed += sqlx::query("DELETE FROM upload_session WHERE upload_uuid = $1")
            .bind(id)
            .execute(&state.db)
            .await?
            .rows_affected();
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_are_decoded_only_when_percent_encoded_utf8() {
        assert_eq!(decode_file_name("%E0%B0%AA%E0%B0%BE%E0%B0%9F.mp3"), "పాట.mp3");
        assert_eq!(decode_file_name("పాట.mp3"), "పాట.mp3");
        assert_eq!(decode_file_name("100%25 done.txt"), "100%25 done.txt");
        assert_eq!(decode_file_name("50%.txt"), "50%.txt");
    }
}
