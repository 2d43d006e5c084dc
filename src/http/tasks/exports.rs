//! The user data export: `POST /tasks/export-data` queues it, `GET /tasks/status/{id}` gives
//! signed download links once it succeeded, `GET /tasks/exports/{id}/download` serves a file to
//! the export's owner or an admin holding an unexpired link.

use std::time::Duration;

use axum::{
    Json,
    body::Body,
    extract::{Path, State},
    http::{HeaderValue, header},
    response::Response,
};
use chrono::Utc;
use futures::TryStreamExt;
use serde::Deserialize;
use serde_json::{Value, json};

use super::shared::{TaskResponse, enqueue, load_task, task_not_found};
use crate::{
    auth::{
        CurrentUser,
        links::{LinkError, LinkKey},
    },
    db::jobs::{JobRow, state},
    error::{AppError, ErrorDetail, Result, ValidationErrorBody},
    http::{ValidQuery, Validate, Validator},
    jobs::kinds::export::{FORMATS, is_export_file_name, is_export_kind, result_files},
    state::AppState,
    storage::objects::export_key,
};

/// HKDF purpose of the export link key (never valid for record links, nor tokens).
const LINK_PURPOSE: &[u8] = b"corpus-te export download link v1";

fn link_key(app: &AppState) -> LinkKey {
    LinkKey::for_purpose(&app.config.secret(), LINK_PURPOSE)
}

/// Query of `POST /tasks/export-data`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportQuery {
    /// `json` (default) or `csv` (the records as CSV as well as the JSON).
    #[serde(default = "default_format")]
    #[param(default = "json")]
    pub export_format: String,
}

fn default_format() -> String {
    "json".to_owned()
}

impl Validate for ExportQuery {
    fn validate(&self, v: &mut Validator) {
        if !FORMATS.contains(&self.export_format.to_ascii_lowercase().as_str()) {
            v.error(
                "enum",
                "export_format",
                "Input should be 'json' or 'csv'",
                Some(Value::from(self.export_format.clone())),
                Some(json!({ "expected": "'json' or 'csv'" })),
            );
        }
    }
}

/// Exports everything held about the caller (profile, roles, every record with its metadata) in
/// the background. Poll `GET /tasks/status/{task_id}`: once `SUCCESS`, its result holds
/// `download_url` (and `files[].download_url`), links valid for `EXPORT_LINK_TTL_MINUTES` that
/// only the caller (or an admin) can use.
#[utoipa::path(post, path = "/api/v1/tasks/export-data", tag = "tasks", security(("HTTPBearer" = [])),
    params(ExportQuery),
    responses((status = 200, body = TaskResponse), (status = 422, body = ValidationErrorBody)))]
pub async fn export_data(
    State(app): State<AppState>,
    user: CurrentUser,
    ValidQuery(q): ValidQuery<ExportQuery>,
) -> Result<Json<TaskResponse>> {
    let format = q.export_format.to_ascii_lowercase();
    enqueue(
        &app,
        "export_user_data",
        "export_user_data",
        json!({ "format": format }),
        Some(user.id),
        "Data export started".into(),
    )
    .await
}

/// An export's result with a fresh signed `download_url` for each file (valid for
/// `EXPORT_LINK_TTL_MINUTES`, never beyond the job's own retention).
pub fn with_download_links(app: &AppState, job: &JobRow, mut result: Value) -> Value {
    let ttl = Duration::from_secs(app.config.jobs.export_link_ttl_minutes * 60);
    let mut expires = (Utc::now() + ttl).timestamp();
    if let Some(job_expiry) = job.expires_at {
        expires = expires.min(job_expiry.timestamp());
    }
    let key = link_key(app);
    let base = app.config.storage.public_api_base_url.as_deref().unwrap_or("").trim().trim_end_matches('/');
    let url = |name: &str| {
        let signature = key.sign_scoped(job.id, name, expires);
        format!("{base}/api/v1/tasks/exports/{}/download?file={name}&expires={expires}&signature={signature}", job.id)
    };
    let mut first = None;
    if let Some(files) = result.get_mut("files").and_then(Value::as_array_mut) {
        for file in files {
            if let Some(name) = file.get("name").and_then(Value::as_str).map(str::to_owned) {
                let link = url(&name);
                first.get_or_insert_with(|| link.clone());
                file["download_url"] = Value::from(link);
            }
        }
    }
    if let (Some(link), Some(object)) = (first, result.as_object_mut()) {
        object.insert("download_url".into(), Value::from(link));
        object.insert(
            "download_expires_at".into(),
            Value::from(chrono::DateTime::from_timestamp(expires, 0).map(|t| t.to_rfc3339()).unwrap_or_default()),
        );
    }
    result
}

/// Query of a download link.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DownloadQuery {
    /// The file (`user_data.json`, `records.csv`; a dataset export's `media.tar`,
    /// `manifest.jsonl`, `manifest.csv`).
    #[serde(default = "default_file")]
    pub file: String,
    /// Expiry of the link, seconds since the epoch.
    pub expires: i64,
    /// The link's signature.
    pub signature: String,
}

fn default_file() -> String {
    "user_data.json".to_owned()
}

impl Validate for DownloadQuery {
    fn validate(&self, _v: &mut Validator) {}
}

/// Downloads a file of a finished export: needs both the caller's token (the export's owner or
/// an admin; anyone else gets 404) and an unexpired link from the task's status (403 once
/// expired or altered).
#[utoipa::path(get, path = "/api/v1/tasks/exports/{task_id}/download", tag = "tasks", security(("HTTPBearer" = [])),
    params(("task_id" = String, Path), DownloadQuery),
    responses((status = 200, description = "The file"), (status = 403, body = ErrorDetail), (status = 404, body = ErrorDetail)))]
pub async fn download(
    State(app): State<AppState>,
    user: CurrentUser,
    Path(task_id): Path<String>,
    ValidQuery(q): ValidQuery<DownloadQuery>,
) -> Result<Response> {
    let job = load_task(&app, &user, &task_id).await?;
    if !is_export_kind(&job.kind) || job.state != state::SUCCESS {
        return Err(task_not_found());
    }
    let files = result_files(job.result.as_ref().unwrap_or(&Value::Null));
    let Some((name, content_type)) = files.into_iter().find(|(name, _)| *name == q.file && is_export_file_name(name))
    else {
        return Err(AppError::NotFound("Export file not found".into()));
    };
    match link_key(&app).verify_scoped(job.id, &name, q.expires, &q.signature, Utc::now().timestamp()) {
        Ok(()) => {}
        Err(LinkError::Expired) => return Err(AppError::Forbidden("This link has expired".into())),
        Err(LinkError::BadSignature) => return Err(AppError::Forbidden("Invalid link signature".into())),
    }
    let object = match app.storage.get(&export_key(job.id, &name), None).await {
        Ok(object) => object,
        Err(object_store::Error::NotFound { .. }) => return Err(AppError::NotFound("Export file not found".into())),
        Err(e) => return Err(AppError::Internal(anyhow::Error::new(e).context("reading an export file"))),
    };
    let size = object.meta.size;
    let body = Body::from_stream(object.into_stream().map_err(std::io::Error::other));
    let disposition = format!("attachment; filename=\"{name}\"");
    Response::builder()
        .header(
            header::CONTENT_TYPE,
            HeaderValue::from_str(&content_type).unwrap_or(HeaderValue::from_static("application/octet-stream")),
        )
        .header(header::CONTENT_LENGTH, size)
        .header(header::CONTENT_DISPOSITION, disposition)
        .header(header::CACHE_CONTROL, "private, no-store")
        .body(body)
        .map_err(|e| AppError::Internal(e.into()))
}
