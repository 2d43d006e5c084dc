//! Admins' dataset exports: a form with the export's filters (the same rules as
//! `POST /api/v1/tasks/export-dataset`), and the recent exports with their state, progress,
//! download links once done (through the bridge, so the API's download endpoint checks the
//! signed link and the session's user) and a cancel button while they run. The page refreshes
//! itself (`<meta http-equiv=refresh>`, no script) while an export is queued or running.

use askama::Template;
use axum::{
    extract::{Path, State},
    http::StatusCode,
    response::{IntoResponse, Redirect},
};
use serde_json::Value;
use uuid::Uuid;

use super::{Layout, PageResult, csrf::SessionForm, message, render, require, session::ConsoleUser};
use crate::{
    db::{
        categories::{self, Category},
        jobs::{self as queue, JobRow, state as job_state},
    },
    domain::{MediaType, RoleName},
    error::AppError,
    exports::selection::{REVIEW_STATES, parse_bbox},
    http::tasks::{dataset::ExportDatasetRequest, exports::with_download_links},
    jobs::kinds::dataset,
    state::AppState,
};

const ADMIN: &[RoleName] = &[RoleName::Admin];
/// Exports listed.
const EXPORTS_SHOWN: i64 = 20;
/// Seconds between refreshes while an export runs.
const REFRESH_SECONDS: u32 = 3;

/// One export of the list.
pub struct ExportRow {
    /// The job's id.
    pub id: Uuid,
    /// Its state (`PENDING`, `PROGRESS`, `SUCCESS`, ...).
    pub state: String,
    /// Progress done and total (bytes), when known.
    pub progress: Option<(u64, u64)>,
    /// The progress line (`3 of 10 records`).
    pub status: String,
    /// When it was started.
    pub created: String,
    /// Records exported, once done.
    pub records: Option<u64>,
    /// Files to download (name, console link), once done.
    pub files: Vec<(String, String)>,
    /// Why it failed.
    pub error: Option<String>,
    /// Still queued or running (a cancel button).
    pub running: bool,
}

#[derive(Template)]
#[template(path = "console/exports.html")]
struct ExportsPage {
    layout: Layout,
    categories: Vec<Category>,
    media_types: Vec<&'static str>,
    review_states: Vec<&'static str>,
    exports: Vec<ExportRow>,
    refresh: Option<u32>,
}

/// The console's link for a download link of the API (`.../api/v1/tasks/exports/...`).
fn console_link(api_link: &str) -> Option<String> {
    let at = api_link.find("/api/v1/tasks/exports/")?;
    Some(format!("/console/api{}", &api_link[at + "/api/v1".len()..]))
}

fn row(state: &AppState, job: &JobRow) -> ExportRow {
    let running = [job_state::PENDING, job_state::STARTED, job_state::PROGRESS].contains(&job.state.as_str());
    let number = |v: &Value, key: &str| v.get(key).and_then(Value::as_u64);
    let progress = job.progress.as_ref().filter(|_| running);
    let mut files = Vec::new();
    let mut records = None;
    if job.state == job_state::SUCCESS
        && let Some(result) = job.result.clone()
    {
        let result = with_download_links(state, job, result);
        records = number(&result, "records");
        for file in result.get("files").and_then(Value::as_array).into_iter().flatten() {
            let name = file.get("name").and_then(Value::as_str);
            let link = file.get("download_url").and_then(Value::as_str).and_then(console_link);
            if let (Some(name), Some(link)) = (name, link) {
                files.push((name.to_owned(), link));
            }
        }
    }
    ExportRow {
        id: job.id,
        state: job.state.clone(),
        progress: progress.and_then(|p| Some((number(p, "current")?, number(p, "total")?))),
        status: progress.and_then(|p| p.get("status")).and_then(Value::as_str).unwrap_or("").to_owned(),
        created: job.created_at.format("%Y-%m-%d %H:%M UTC").to_string(),
        records,
        files,
        error: (job.state == job_state::FAILURE).then(|| job.error.clone().unwrap_or_default()),
        running,
    }
}

/// `GET /console/admin/exports`.
pub async fn page(State(state): State<AppState>, user: ConsoleUser) -> PageResult {
    require(&user, ADMIN, "exports")?;
    let categories = categories::list(&state.db, true).await?;
    let jobs = queue::list(&state.db, None, Some(dataset::KIND), None, EXPORTS_SHOWN).await?;
    let exports: Vec<ExportRow> = jobs.iter().map(|job| row(&state, job)).collect();
    let refresh = exports.iter().any(|e| e.running).then_some(REFRESH_SECONDS);
    let page = ExportsPage {
        layout: Layout::for_user(&user, "exports"),
        categories,
        media_types: MediaType::ALL.iter().map(|m| m.as_str()).collect(),
        review_states: REVIEW_STATES.to_vec(),
        exports,
        refresh,
    };
    Ok(render(&page))
}

/// Comma- or space-separated values of a text field, and the values of repeated fields.
fn values(pairs: &[(String, String)], name: &str) -> Vec<String> {
    pairs
        .iter()
        .filter(|(k, _)| k == name)
        .flat_map(|(_, v)| v.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect::<Vec<_>>())
        .collect()
}

fn single(pairs: &[(String, String)], name: &str) -> Option<String> {
    pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.trim().to_owned()).filter(|v| !v.is_empty())
}

/// `POST /console/admin/exports`: starts a dataset export of the records the form selects.
pub async fn start(
    State(state): State<AppState>,
    SessionForm { user, pairs, .. }: SessionForm<serde::de::IgnoredAny>,
) -> PageResult {
    require(&user, ADMIN, "exports")?;
    let mut refused = Vec::new();
    let bbox = match single(&pairs, "bbox") {
        None => None,
        Some(text) => match parse_bbox(&text) {
            Ok(b) => Some(b.to_vec()),
            Err(e) => {
                refused.push(format!("bbox: {e}"));
                None
            }
        },
    };
    let request = ExportDatasetRequest {
        categories: values(&pairs, "category"),
        media_types: values(&pairs, "media_type"),
        languages: values(&pairs, "languages"),
        review_status: values(&pairs, "review_status"),
        from: single(&pairs, "from"),
        to: single(&pairs, "to"),
        bbox,
    };
    let selection = match request.selection() {
        Ok(selection) => Some(selection),
        Err(errors) => {
            refused.extend(errors.into_iter().map(|(field, msg, _)| format!("{field}: {msg}")));
            None
        }
    };
    let Some(selection) = selection.filter(|_| refused.is_empty()) else {
        let layout = Layout::for_user(&user, "exports");
        let heading = layout.t("error");
        return Ok(message(layout, StatusCode::UNPROCESSABLE_ENTITY, heading, &refused.join("; ")));
    };
    let id = crate::jobs::queue::enqueue(
        &state.db,
        &state.config,
        dataset::KIND,
        dataset::args(&selection),
        Some(user.user.id),
    )
    .await?;
    tracing::info!(job = %id, "dataset export started in the console");
    Ok(Redirect::to("/console/admin/exports").into_response())
}

/// `POST /console/admin/exports/{id}/cancel`: stops a queued or running dataset export.
pub async fn cancel(
    State(state): State<AppState>,
    Path(job_id): Path<Uuid>,
    SessionForm { user, .. }: SessionForm<serde::de::IgnoredAny>,
) -> PageResult {
    require(&user, ADMIN, "exports")?;
    let job = queue::get(&state.db, job_id).await?.filter(|job| job.kind == dataset::KIND);
    let job = job.ok_or_else(|| AppError::NotFound("Export not found".into()))?;
    let retention = state.config.jobs.job_result_retention_hours as f64 * 3600.0;
    queue::cancel(&state.db, job.id, retention).await?;
    tracing::info!(job = %job.id, "dataset export cancelled in the console");
    Ok(Redirect::to("/console/admin/exports").into_response())
}
