//! The jobs running and waiting (admins only).

use axum::{Json, extract::State};

use super::shared::{TaskInfo, TaskListResponse, require_admin};
use crate::{
    auth::CurrentUser,
    db::jobs::{self as queue, state},
    error::{ErrorDetail, Result},
    state::AppState,
};

/// Most jobs one list shows.
const LIST_MAX: i64 = 1000;

async fn list(app: &AppState, states: &[&str]) -> Result<Json<TaskListResponse>> {
    let states: Vec<String> = states.iter().map(|s| (*s).to_owned()).collect();
    let jobs = queue::list(&app.db, Some(&states), None, None, LIST_MAX).await?;
    let tasks: Vec<TaskInfo> = jobs.into_iter().map(TaskInfo::from).collect();
    Ok(Json(TaskListResponse { total_count: tasks.len(), tasks }))
}

/// Jobs a worker is running now (admins only).
#[utoipa::path(get, path = "/api/v1/tasks/active", tag = "tasks", security(("HTTPBearer" = [])),
    responses((status = 200, body = TaskListResponse), (status = 403, body = ErrorDetail)))]
pub async fn active(State(app): State<AppState>, user: CurrentUser) -> Result<Json<TaskListResponse>> {
    require_admin(&user)?;
    list(&app, &[state::STARTED, state::PROGRESS]).await
}

/// Jobs waiting to run, including retries waiting for their backoff (`eta`) (admins only).
#[utoipa::path(get, path = "/api/v1/tasks/scheduled", tag = "tasks", security(("HTTPBearer" = [])),
    responses((status = 200, body = TaskListResponse), (status = 403, body = ErrorDetail)))]
pub async fn scheduled(State(app): State<AppState>, user: CurrentUser) -> Result<Json<TaskListResponse>> {
    require_admin(&user)?;
    list(&app, &[state::PENDING]).await
}
