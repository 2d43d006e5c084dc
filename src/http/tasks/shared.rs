//! What the tasks handlers share: the original's response shapes, the admin check, loading a
//! task its caller may see, and enqueuing.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use crate::{
    auth::CurrentUser,
    db::jobs::{self as queue, JobRow},
    error::{AppError, Result},
    state::AppState,
};

/// The original's `TaskResponse`: a job was queued.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TaskResponse {
    /// The job's id (poll `GET /tasks/status/{task_id}`).
    pub task_id: String,
    /// The original's task name (`export_user_data`, ...).
    pub task_name: String,
    /// `PENDING`.
    pub status: String,
    /// What was started.
    pub message: String,
}

/// The original's `TaskStatusResponse`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TaskStatusResponse {
    /// The job's id.
    pub task_id: String,
    /// `PENDING`, `STARTED`, `PROGRESS`, `SUCCESS`, `FAILURE` or `REVOKED`.
    pub status: String,
    /// The result, once `SUCCESS` (an export's result carries its signed download links).
    #[schema(value_type = Option<Object>)]
    pub result: Option<Value>,
    /// Why it failed, once `FAILURE`.
    pub traceback: Option<String>,
    /// `{current, total, status}` while it runs; the result once it succeeded.
    #[schema(value_type = Option<Object>)]
    pub progress: Option<Value>,
}

/// One job in a list.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TaskInfo {
    /// The job's id.
    pub task_id: String,
    /// Its kind.
    pub task_name: String,
    /// Its state.
    pub status: String,
    /// The worker running it.
    pub worker: Option<String>,
    /// Its arguments.
    #[schema(value_type = Object)]
    pub args: Value,
    /// Always `{}` (kept for the original's shape).
    #[schema(value_type = Object)]
    pub kwargs: Value,
    /// When its current attempt started.
    pub time_start: Option<DateTime<Utc>>,
    /// When it is due.
    pub eta: Option<DateTime<Utc>>,
}

impl From<JobRow> for TaskInfo {
    fn from(job: JobRow) -> Self {
        Self {
            task_id: job.id.to_string(),
            task_name: job.kind,
            status: job.state,
            worker: job.worker,
            args: job.args,
            kwargs: Value::Object(Default::default()),
            time_start: job.started_at,
            eta: Some(job.run_at),
        }
    }
}

/// The original's `TaskListResponse`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TaskListResponse {
    /// The jobs.
    pub tasks: Vec<TaskInfo>,
    /// How many.
    pub total_count: usize,
}

/// 403 `Admin access required` unless the caller is an admin.
pub fn require_admin(user: &CurrentUser) -> Result<()> {
    if user.is_admin() { Ok(()) } else { Err(AppError::Forbidden("Admin access required".into())) }
}

/// 404 `Task not found`.
pub fn task_not_found() -> AppError {
    AppError::NotFound("Task not found".into())
}

/// The job `task_id` names, if the caller owns it or is an admin (otherwise, and for ids that
/// are no job, 404).
pub async fn load_task(state: &AppState, user: &CurrentUser, task_id: &str) -> Result<JobRow> {
    let id = Uuid::parse_str(task_id.trim()).map_err(|_| task_not_found())?;
    let job = queue::get(&state.db, id).await?.ok_or_else(task_not_found)?;
    if job.owner == Some(user.id) || user.is_admin() { Ok(job) } else { Err(task_not_found()) }
}

/// A record id in the original's task paths: a UUID; an integer (the original's type) names no
/// record here (404); anything else is 400.
pub fn parse_task_record_id(raw: &str) -> Result<Uuid> {
    let raw = raw.trim();
    if let Ok(id) = Uuid::parse_str(raw) {
        return Ok(id);
    }
    if !raw.is_empty() && raw.bytes().all(|b| b.is_ascii_digit()) {
        return Err(AppError::NotFound("Record not found".into()));
    }
    Err(AppError::BadRequest("Invalid record ID format".into()))
}

/// Enqueues a job for `owner` and answers the original's `TaskResponse`.
pub async fn enqueue(
    state: &AppState,
    kind: &str,
    task_name: &str,
    args: Value,
    owner: Option<Uuid>,
    message: String,
) -> Result<axum::Json<TaskResponse>> {
    let id = crate::jobs::queue::enqueue(&state.db, &state.config, kind, args, owner).await?;
    Ok(axum::Json(TaskResponse {
        task_id: id.to_string(),
        task_name: task_name.to_owned(),
        status: queue::state::PENDING.to_owned(),
        message,
    }))
}
