//! Processing tasks on records: `process-audio` and `batch-process` compute a record's media
//! facts (its duration) from its stored file; content analysis and language detection, which the
//! original only faked, answer 400.

use axum::{
    Json,
    extract::{Path, State},
};
use serde_json::{Value, json};

use super::shared::{TaskResponse, enqueue, parse_task_record_id};
use crate::{
    auth::CurrentUser,
    db::records::{self, Visibility},
    error::{AppError, ErrorDetail, Result, ValidationErrorBody},
    http::ValidJson,
    state::AppState,
};

/// Most records one batch may name.
const BATCH_MAX: usize = 1000;

fn visibility(user: &CurrentUser) -> Visibility {
    if user.is_staff() { Visibility::All } else { Visibility::OwnedBy(user.id) }
}

/// 404 unless the caller may see record `uid` (their own, or any for reviewers and admins).
async fn check_visible(state: &AppState, user: &CurrentUser, uid: uuid::Uuid) -> Result<()> {
    records::get_visible(&state.db, uid, visibility(user))
        .await?
        .map(drop)
        .ok_or_else(|| AppError::NotFound("Record not found".into()))
}

/// Computes the media facts (duration) of one record's file in the background.
#[utoipa::path(post, path = "/api/v1/tasks/process-audio/{record_id}", tag = "tasks", security(("HTTPBearer" = [])),
    params(("record_id" = String, Path, description = "Record UUID (an integer names no record: 404)")),
    responses((status = 200, body = TaskResponse), (status = 400, body = ErrorDetail), (status = 404, body = ErrorDetail)))]
pub async fn process_audio(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(record_id): Path<String>,
) -> Result<Json<TaskResponse>> {
    let uid = parse_task_record_id(&record_id)?;
    check_visible(&state, &user, uid).await?;
    let message = format!("Audio processing started for record {uid}");
    enqueue(&state, "media_facts", "process_audio_file", json!({ "record_id": uid }), Some(user.id), message).await
}

/// Computes the media facts of several records (a JSON array of record UUIDs) in the background.
#[utoipa::path(post, path = "/api/v1/tasks/batch-process", tag = "tasks", security(("HTTPBearer" = [])),
    request_body(content = Vec<String>, description = "Record UUIDs"),
    responses((status = 200, body = TaskResponse), (status = 400, body = ErrorDetail), (status = 404, body = ErrorDetail),
        (status = 422, body = ValidationErrorBody)))]
pub async fn batch_process(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidJson(ids): ValidJson<Vec<Value>>,
) -> Result<Json<TaskResponse>> {
    if ids.len() > BATCH_MAX {
        return Err(AppError::BadRequest(format!("At most {BATCH_MAX} records per batch")));
    }
    let mut uids = Vec::with_capacity(ids.len());
    for id in &ids {
        let raw = match id {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            _ => return Err(AppError::BadRequest("Invalid record ID format".into())),
        };
        let uid = parse_task_record_id(&raw)?;
        check_visible(&state, &user, uid).await?;
        uids.push(uid);
    }
    let message = format!("Batch processing started for {} records", uids.len());
    enqueue(&state, "media_facts", "batch_process_files", json!({ "record_ids": uids }), Some(user.id), message).await
}

/// Not available: the original only returned a fixed placeholder transcription; this service has
/// no speech recognition. 400.
#[utoipa::path(post, path = "/api/v1/tasks/analyze-content/{record_id}", tag = "tasks", security(("HTTPBearer" = [])),
    params(("record_id" = String, Path)),
    responses((status = 400, description = "Content analysis is not available", body = ErrorDetail)))]
pub async fn analyze_content(_user: CurrentUser, Path(_record_id): Path<String>) -> Result<Json<TaskResponse>> {
    Err(AppError::BadRequest(
        "Content analysis is not available: this service has no speech recognition or audio quality analysis".into(),
    ))
}

/// Not available: the original only reported every record as skipped. 400.
#[utoipa::path(post, path = "/api/v1/tasks/batch-language-detection", tag = "tasks", security(("HTTPBearer" = [])),
    request_body(content = Vec<String>, description = "Record ids"),
    responses((status = 400, description = "Language detection is not available", body = ErrorDetail)))]
pub async fn batch_language_detection(_user: CurrentUser) -> Result<Json<TaskResponse>> {
    Err(AppError::BadRequest(
        "Language detection is not available: records carry the language their contributor gave".into(),
    ))
}
