//! Resumable uploads: chunks, their status, finalisation into a record, and the sweep of
//! abandoned ones.
//!
//! Each upload has a PostgreSQL advisory lock. A finalise holds it exclusively on its own
//! connection from start to end, so a second finalise gets 409 while the first is alive; the lock
//! dies with that connection, so a finalise whose process was killed is taken over at once (and
//! one whose request was dropped releases it on the spot). A chunk write takes the lock shared for
//! its short transaction, and the sweep exclusively, without waiting. The database side of a
//! finalise (record, session marked done, chunk rows gone) is one transaction; the object key is
//! noted on the session before the object is stored, so an object a dead finalise left behind
//! is removed by the next finalise or by the sweep.
//!
//! Chunk objects are named after their content (`uploads/<upload>/<index>.<sha256>`): a chunk
//! re-sent with other bytes gets a new object, so nothing a finalise is reading ever changes.

use std::time::Duration;

use axum::{
    Json,
    extract::{Path, State},
};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use sqlx::{PgConnection, Postgres, pool::PoolConnection};
use uuid::Uuid;

use super::{
    UploadFields,
    form::{FilePart, UploadBody, UploadFormSpec, decode_file_name},
    object_key,
    spool::{Spooled, Spooler, too_large},
    store_upload,
};
use crate::{
    auth::{Auth, CurrentUser, roles::AnyRole},
    error::{AppError, FieldError, Result},
    http::{Validate, Validator, records::RecordRow, records::crud::insert_record, records::crud::reload},
    state::AppState,
    storage::objects::{chunk_key, chunk_prefix},
};

/// The advisory lock key of an upload (a key space of its own: see `hashtextextended`).
const UPLOAD_LOCK: &str = "hashtextextended('corpus-te/upload/' || $1::text, 0)";
/// The advisory lock key that serialises one user's chunk writes (for exact per-user caps).
const USER_LOCK: &str = "hashtextextended('corpus-te/upload-user/' || $1::text, 0)";

fn busy() -> AppError {
    AppError::Conflict("This upload is already being finalised".into())
}

fn not_found() -> AppError {
    AppError::NotFound("Upload not found".into())
}

/// The object a chunk's bytes are kept in.
fn chunk_object_key(upload_uuid: Uuid, index: i32, sha256: &str) -> String {
    format!("{}.{sha256}", chunk_key(upload_uuid, index))
}

#[derive(sqlx::FromRow)]
struct SessionRow {
    user_id: Uuid,
    filename: String,
    total_chunks: i32,
    record_uid: Option<Uuid>,
    finalise_object_key: Option<String>,
}

const SESSION_COLUMNS: &str = "user_id, filename, total_chunks, record_uid, finalise_object_key";

/// The upload, if the caller owns it. Someone else's upload is answered like a missing one (as
/// someone else's record is), so an upload id reveals nothing about its owner.
async fn load_session(db: &mut PgConnection, user: &CurrentUser, upload_uuid: Uuid) -> Result<Option<SessionRow>> {
    let session = sqlx::query_as::<_, SessionRow>(&format!(
        "SELECT {SESSION_COLUMNS} FROM upload_session WHERE upload_uuid = $1"
    ))
    .bind(upload_uuid)
    .fetch_optional(db)
    .await?;
    Ok(session.filter(|s| s.user_id == user.id))
}

/// An upload's exclusive advisory lock, held on its own pooled connection. Released by
/// [`FinaliseLock::release`]; when dropped instead (an error path, a dropped request), the
/// connection is closed rather than pooled, which releases the lock all the same.
struct FinaliseLock {
    conn: Option<PoolConnection<Postgres>>,
    upload_uuid: Uuid,
}

impl FinaliseLock {
    /// The lock, or `None` when a live finalise holds it.
    async fn try_take(state: &AppState, upload_uuid: Uuid) -> Result<Option<Self>> {
        let mut conn = state.db.acquire().await?;
        let taken: bool = sqlx::query_scalar(&format!("SELECT pg_try_advisory_lock({UPLOAD_LOCK})"))
            .bind(upload_uuid)
            .fetch_one(&mut *conn)
            .await?;
        Ok(taken.then_some(Self { conn: Some(conn), upload_uuid }))
    }

    fn conn(&mut self) -> &mut PgConnection {
        self.conn.as_mut().expect("held until released")
    }

    async fn release(mut self) {
        if let Some(mut conn) = self.conn.take() {
            let unlocked = sqlx::query(&format!("SELECT pg_advisory_unlock({UPLOAD_LOCK})"))
                .bind(self.upload_uuid)
                .execute(&mut *conn)
                .await;
            if unlocked.is_err() {
                drop(conn.detach());
            }
        }
    }
}

impl Drop for FinaliseLock {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            // Closing the connection ends the session, and with it the lock.
            drop(conn.detach());
        }
    }
}

/// Notes on the session the key of the object a finalise is about to store.
pub(super) async fn note_object_key(db: &mut PgConnection, upload_uuid: Uuid, key: &str) -> Result<()> {
    sqlx::query("UPDATE upload_session SET finalise_object_key = $2 WHERE upload_uuid = $1")
        .bind(upload_uuid)
        .bind(key)
        .execute(db)
        .await?;
    Ok(())
}

/// Turns a complete resumable upload into a record; a finalise re-sent after success answers
/// with the same record.
pub(super) async fn finalise(
    state: &AppState,
    user: &CurrentUser,
    fields: &UploadFields,
    upload_uuid: Uuid,
) -> Result<RecordRow> {
    let Some(mut lock) = FinaliseLock::try_take(state, upload_uuid).await? else {
        // Someone else's upload is still a 404, not a 409.
        return match load_session(&mut *state.db.acquire().await?, user, upload_uuid).await? {
            Some(_) => Err(busy()),
            None => Err(not_found()),
        };
    };
    // Cancelled (the request dropped) the lock's connection is closed instead, see FinaliseLock.
    let result = finalise_locked(state, lock.conn(), user, fields, upload_uuid).await;
    lock.release().await;
    match result? {
        Finalised::Created(row) => {
            if let Err(e) = state.storage.delete_prefix(&chunk_prefix(upload_uuid)).await {
                tracing::warn!(error = %format!("{e:#}"), "could not delete the chunks of a finished upload");
            }
            Ok(*row)
        }
        // A re-sent finalise (the answer was lost on a dropped connection) gets the same record.
        Finalised::Earlier(uid) => reload(state, uid).await,
    }
}

/// What a finalise found or made.
enum Finalised {
    /// The record it wrote.
    Created(Box<RecordRow>),
    /// The record an earlier finalise wrote.
    Earlier(Uuid),
}

async fn finalise_locked(
    state: &AppState,
    db: &mut PgConnection,
    user: &CurrentUser,
    fields: &UploadFields,
    upload_uuid: Uuid,
) -> Result<Finalised> {
    let session = load_session(&mut *db, user, upload_uuid).await?.ok_or_else(not_found)?;
    if let Some(uid) = session.record_uid {
        return Ok(Finalised::Earlier(uid));
    }
    if let Some(total) = fields.form.total_chunks
        && total != i64::from(session.total_chunks)
    {
        return Err(AppError::Conflict(format!(
            "total_chunks {total} does not match the upload's {} chunks",
            session.total_chunks
        )));
    }
    // The object of a finalise that died after storing it, before its commit.
    if let Some(key) = &session.finalise_object_key {
        state.storage.delete(key).await.map_err(|e| {
            tracing::error!(error = %format!("{e:#}"), "removing the object of a finalise that died failed");
            AppError::ServiceUnavailable("File upload failed: storage is unavailable, please retry".into())
        })?;
    }
    let spooled = assemble(state, &mut *db, upload_uuid, &session).await?;
    let name = fields.form.filename.clone().unwrap_or_else(|| session.filename.clone());
    let new =
        store_upload(state, fields, &spooled, Some(decode_file_name(&name)), Some((&mut *db, upload_uuid))).await?;
    // One transaction: the record, the session marked done, its chunk rows gone.
    let mut tx = sqlx::Connection::begin(&mut *db).await?;
    let written = async {
        let row = insert_record(&mut *tx, &new).await?;
        sqlx::query(
            "UPDATE upload_session SET record_uid = $2, finalise_object_key = NULL, updated_at = now()
             WHERE upload_uuid = $1",
        )
        .bind(upload_uuid)
        .bind(row.uid())
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM upload_chunk WHERE upload_uuid = $1").bind(upload_uuid).execute(&mut *tx).await?;
        Ok::<_, AppError>(row)
    }
    .await;
    let (row, committed) = match written {
        Ok(row) => (row, tx.commit().await),
        Err(e) => {
            drop(tx);
            state.storage.delete_quietly(object_key(&new)).await;
            return Err(e);
        }
    };
    match committed {
        Ok(()) => Ok(Finalised::Created(Box::new(row))),
        Err(e) => {
            // Refused by the server (a deferred constraint, a serialisation failure): nothing was
            // recorded, the object goes. Any other failure (the connection broke) leaves the
            // outcome unknown: the object stays, noted on the session, for the next finalise or
            // the sweep to remove if the commit did not happen.
            if matches!(e, sqlx::Error::Database(_)) {
                state.storage.delete_quietly(object_key(&new)).await;
            }
            Err(e.into())
        }
    }
}

/// Copies the chunks, in order, into one spool file.
async fn assemble(state: &AppState, db: &mut PgConnection, upload_uuid: Uuid, session: &SessionRow) -> Result<Spooled> {
    let received: Vec<(i32, String)> =
        sqlx::query_as("SELECT chunk_index, sha256 FROM upload_chunk WHERE upload_uuid = $1 ORDER BY chunk_index")
            .bind(upload_uuid)
            .fetch_all(db)
            .await?;
    let missing: Vec<i32> =
        (0..session.total_chunks).filter(|i| received.binary_search_by_key(i, |c| c.0).is_err()).collect();
    if !missing.is_empty() {
        let shown: Vec<String> = missing.iter().take(50).map(i32::to_string).collect();
        return Err(AppError::BadRequest(format!("Upload incomplete: missing chunks [{}]", shown.join(", "))));
    }
    let mut spooler = Spooler::new(state.config.max_file_size, state.config.upload_tmp_dir.as_deref())?;
    for (index, sha256) in received.iter().filter(|c| c.0 < session.total_chunks) {
        let read_error = |e: object_store::Error| {
            AppError::Internal(anyhow::Error::new(e).context(format!("reading chunk {index}")))
        };
        let object = match state.storage.get(&chunk_object_key(upload_uuid, *index, sha256), None).await {
            Ok(object) => object,
            // Chunks stored before content-named objects.
            Err(object_store::Error::NotFound { .. }) => {
                state.storage.get(&chunk_key(upload_uuid, *index), None).await.map_err(read_error)?
            }
            Err(e) => return Err(read_error(e)),
        };
        let mut stream = object.into_stream();
        while let Some(bytes) = stream.next().await {
            spooler.write(&bytes.map_err(read_error)?).await?;
        }
    }
    spooler.finish().await
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
        v.range_i64("total_chunks", self.total_chunks, 1, 100_000);
        v.range_i64("chunk_index", self.chunk_index, 0, (self.total_chunks - 1).max(0));
        v.opt_str_len("filename", self.filename.as_deref(), 1, 255);
    }
}

/// The per-user caps on unfinished uploads in effect: (open sessions, bytes); 0 = no limit.
fn user_caps(state: &AppState) -> (i64, u64) {
    let config = &state.config;
    let bytes = config.upload_max_pending_bytes_per_user.unwrap_or(config.max_file_size.saturating_mul(4));
    (i64::from(config.upload_max_open_per_user), bytes)
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
    let owner: Option<Uuid> = sqlx::query_scalar("SELECT user_id FROM upload_session WHERE upload_uuid = $1")
        .bind(w.upload_uuid)
        .fetch_optional(&mut *db)
        .await?;
    match owner {
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
            let open: i64 =
                sqlx::query_scalar("SELECT count(*) FROM upload_session WHERE user_id = $1 AND record_uid IS NULL")
                    .bind(w.user.id)
                    .fetch_one(&mut *db)
                    .await?;
            if open >= max_open {
                return Err(AppError::TooManyRequests(format!(
                    "Too many unfinished uploads: finish or abandon one first (the limit is {max_open})"
                )));
            }
        }
        None => {}
    }
    // Bytes already held, leaving out the chunk this one replaces.
    let (this_upload, all_open): (i64, i64) = sqlx::query_as(
        "SELECT COALESCE(sum(c.size) FILTER (WHERE c.upload_uuid = $2), 0)::bigint, COALESCE(sum(c.size), 0)::bigint
         FROM upload_chunk c JOIN upload_session s USING (upload_uuid)
         WHERE s.user_id = $1 AND s.record_uid IS NULL AND NOT (c.upload_uuid = $2 AND c.chunk_index = $3)",
    )
    .bind(w.user.id)
    .bind(w.upload_uuid)
    .bind(w.index)
    .fetch_one(&mut *db)
    .await?;
    let max = state.config.max_file_size;
    if this_upload as u64 + w.spooled.size > max {
        return Err(too_large(max));
    }
    if max_pending > 0 && all_open as u64 + w.spooled.size > max_pending {
        return Err(AppError::TooManyRequests(format!(
            "Too much unfinished upload data: finish or abandon an upload first (the limit is {max_pending} bytes)"
        )));
    }
    let existing = sqlx::query_scalar("SELECT sha256 FROM upload_chunk WHERE upload_uuid = $1 AND chunk_index = $2")
        .bind(w.upload_uuid)
        .bind(w.index)
        .fetch_optional(&mut *db)
        .await?;
    Ok(existing)
}

/// Records a stored chunk in one short transaction, under the user's lock (so the caps are
/// exact) and the upload's lock shared (so never while it is being finalised). Returns the
/// sha256 of the chunk it replaced, if any, and how many chunks the upload holds now.
async fn record_chunk(state: &AppState, w: &ChunkWrite<'_>, stored: bool) -> Result<(Option<String>, i64)> {
    let mut tx = state.db.begin().await?;
    sqlx::query(&format!("SELECT pg_advisory_xact_lock({USER_LOCK})")).bind(w.user.id).execute(&mut *tx).await?;
    let shared: bool = sqlx::query_scalar(&format!("SELECT pg_try_advisory_xact_lock_shared({UPLOAD_LOCK})"))
        .bind(w.upload_uuid)
        .fetch_one(&mut *tx)
        .await?;
    if !shared {
        return Err(busy());
    }
    let previous = check_chunk(state, &mut tx, w).await?;
    if !stored && previous.as_deref() != Some(w.spooled.sha256.as_str()) {
        // The same bytes were held when this request began; they were replaced since.
        return Err(AppError::Conflict("The chunk changed while it was being sent; please send it again".into()));
    }
    sqlx::query(
        "INSERT INTO upload_session (upload_uuid, user_id, filename, total_chunks) VALUES ($1, $2, $3, $4)
         ON CONFLICT (upload_uuid) DO NOTHING",
    )
    .bind(w.upload_uuid)
    .bind(w.user.id)
    .bind(&w.filename)
    .bind(w.total)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO upload_chunk (upload_uuid, chunk_index, size, sha256) VALUES ($1, $2, $3, $4)
         ON CONFLICT (upload_uuid, chunk_index) DO UPDATE SET size = EXCLUDED.size, sha256 = EXCLUDED.sha256, received_at = now()",
    )
    .bind(w.upload_uuid)
    .bind(w.index)
    .bind(w.spooled.size as i64)
    .bind(&w.spooled.sha256)
    .execute(&mut *tx)
    .await?;
    let received: i64 = sqlx::query_scalar(
        "WITH touched AS (UPDATE upload_session SET updated_at = now() WHERE upload_uuid = $1)
         SELECT count(*) FROM upload_chunk WHERE upload_uuid = $1",
    )
    .bind(w.upload_uuid)
    .fetch_one(&mut *tx)
    .await?;
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
    responses((status = 200, body = ChunkResponse), (status = 400, body = crate::http::docs::ErrorDetail),
        (status = 403, body = crate::http::docs::ErrorDetail), (status = 404, body = crate::http::docs::ErrorDetail),
        (status = 409, body = crate::http::docs::ErrorDetail), (status = 413, body = crate::http::docs::ErrorDetail),
        (status = 422, body = crate::http::docs::ValidationErrorBody), (status = 429, body = crate::http::docs::ErrorDetail),
        (status = 503, body = crate::http::docs::ErrorDetail)))]
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
    let recorded = sqlx::query_scalar::<_, bool>(
        "SELECT EXISTS (SELECT 1 FROM upload_chunk WHERE upload_uuid = $1 AND chunk_index = $2 AND sha256 = $3)",
    )
    .bind(w.upload_uuid)
    .bind(w.index)
    .bind(&w.spooled.sha256)
    .fetch_one(&state.db)
    .await;
    if let Ok(false) = recorded {
        state.storage.delete_quietly(key).await;
    }
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
    let upload_uuid = Uuid::parse_str(upload_uuid.trim()).map_err(|_| not_found())?;
    let session = load_session(&mut *state.db.acquire().await?, &auth, upload_uuid).await?.ok_or_else(not_found)?;
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

/// Deletes resumable uploads untouched for longer than `older_than` (their chunk objects, the
/// object of a finalise that died, and the rows), and the bookkeeping of finished ones. Records
/// are never touched; an upload being finalised or written to is skipped. Returns how many
/// uploads were removed.
pub async fn cleanup_abandoned_uploads(state: &AppState, older_than: Duration) -> anyhow::Result<u64> {
    let ids: Vec<Uuid> = sqlx::query_scalar(
        "SELECT upload_uuid FROM upload_session WHERE updated_at < now() - make_interval(secs => $1)",
    )
    .bind(older_than.as_secs_f64())
    .fetch_all(&state.db)
    .await?;
    let mut removed = 0;
    for id in ids {
        let mut tx = state.db.begin().await?;
        let locked: bool = sqlx::query_scalar(&format!("SELECT pg_try_advisory_xact_lock({UPLOAD_LOCK})"))
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
        if !locked {
            continue;
        }
        // Still abandoned now that nothing else can touch it?
        let row: Option<(Option<Uuid>, Option<String>)> = sqlx::query_as(
            "SELECT record_uid, finalise_object_key FROM upload_session
             WHERE upload_uuid = $1 AND updated_at < now() - make_interval(secs => $2)",
        )
        .bind(id)
        .bind(older_than.as_secs_f64())
        .fetch_optional(&mut *tx)
        .await?;
        let Some((record_uid, dead_finalise_key)) = row else { continue };
        // Objects first: a row without objects is harmless, objects without a row are orphans.
        state.storage.delete_prefix(&chunk_prefix(id)).await?;
        if let (None, Some(key)) = (record_uid, dead_finalise_key) {
            state.storage.delete(&key).await?;
        }
        removed += sqlx::query("DELETE FROM upload_session WHERE upload_uuid = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
    }
    Ok(removed)
}
