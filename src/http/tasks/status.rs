//! A task's status and its cancellation.

use axum::{
    Json,
    extract::{Path, State},
};
use serde::Serialize;
use serde_json::Value;

use super::{
    exports::with_download_links,
    shared::{TaskStatusResponse, load_task},
};
use crate::{
    auth::CurrentUser,
    db::jobs::{self as queue, state},
    error::{ErrorDetail, Result},
    jobs::kinds::export::is_export_kind,
    state::AppState,
};

/// Answer of a cancellation.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CancelResponse {
    /// `Task <id> cancellation requested`.
    pub message: String,
    /// The job's id.
    pub task_id: String,
}

/// A task's state, result (once `SUCCESS`), failure (`traceback`, once `FAILURE`) and progress.
/// Only the task's owner or an admin sees it; for anyone else, and for ids that are no task (or
/// whose result has expired), 404.
#[utoipa::path(get, path = "/api/v1/tasks/status/{task_id}", tag = "tasks", security(("HTTPBearer" = [])),
    params(("task_id" = String, Path)),
    responses((status = 200, body = TaskStatusResponse), (status = 404, body = ErrorDetail)))]
pub async fn task_status(
    State(app): State<AppState>,
    user: CurrentUser,
    Path(task_id): Path<String>,
) -> Result<Json<TaskStatusResponse>> {
    let job = load_task(&app, &user, &task_id).await?;
    let result = match job.state.as_str() {
        state::SUCCESS => {
            let result = job.result.clone().unwrap_or(Value::Null);
            Some(if is_export_kind(&job.kind) { with_download_links(&app, &job, result) } else { result })
        }
        _ => None,
    };
    let progress = match job.state.as_str() {
        state::SUCCESS => result.clone().filter(Value::is_object),
        state::STARTED | state::PROGRESS => job.progress.clone(),
        _ => None,
    };
    let traceback = (job.state == state::FAILURE).then(|| job.error.clone().unwrap_or_default());
    Ok(Json(TaskStatusResponse { task_id: job.id.to_string(), status: job.state, result, traceback, progress }))
}

/// Cancels a task that has not finished (a running one is stopped by its worker within a few
/// seconds): its owner or an admin only, others get 404. Cancelling a finished task changes
/// nothing and answers the same.
#[utoipa::path(delete, path = "/api/v1/tasks/cancel/{task_id}", tag = "tasks", security(("HTTPBearer" = [])),
    params(("task_id" = String, Path)),
    responses((status = 200, body = CancelResponse), (status = 404, body = ErrorDetail)))]
pub async fn cancel_task(
    State(app): State<AppState>,
    user: CurrentUser,
    Path(task_id): Path<String>,
) -> Result<Json<CancelResponse>> {
    let job = load_task(&app, &user, &task_id).await?;
    let retention = app.config.jobs.job_result_retention_hours as f64 * 3600.0;
    queue::cancel(&app.db, job.id, retention).await?;
    Ok(Json(CancelResponse { message: format!("Task {} cancellation requested", job.id), task_id: job.id.to_string() }))
}
