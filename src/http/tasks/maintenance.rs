//! Admin maintenance tasks, and the original's e-mail endpoints (no SMTP here: 400).

use axum::{Json, extract::State};
use serde::Deserialize;
use serde_json::json;

use super::shared::{TaskResponse, enqueue, require_admin};
use crate::{
    auth::CurrentUser,
    error::{AppError, ErrorDetail, Result, ValidationErrorBody},
    http::{ValidQuery, Validate, Validator},
    state::AppState,
};

/// Query of `POST /tasks/maintenance/cleanup`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CleanupQuery {
    /// Accepted for the original's clients; cleanup never deletes user content by age, whatever
    /// this says (abandoned uploads follow `UPLOAD_SESSION_TTL_MINUTES`).
    #[serde(default = "default_days")]
    #[param(minimum = 0, default = 30)]
    pub days_old: i64,
}

fn default_days() -> i64 {
    30
}

impl Validate for CleanupQuery {
    fn validate(&self, v: &mut Validator) {
        v.range_i64("days_old", self.days_old, 0, 36_500);
    }
}

/// Runs the cleanup now (admins only): abandoned chunked uploads, spool files, long-expired
/// one-time codes, expired job results and export files. Never a record or its file.
#[utoipa::path(post, path = "/api/v1/tasks/maintenance/cleanup", tag = "tasks", security(("HTTPBearer" = [])),
    params(CleanupQuery),
    responses((status = 200, body = TaskResponse), (status = 403, body = ErrorDetail), (status = 422, body = ValidationErrorBody)))]
pub async fn cleanup(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidQuery(q): ValidQuery<CleanupQuery>,
) -> Result<Json<TaskResponse>> {
    require_admin(&user)?;
    let message = format!("Cleanup started for files older than {} days", q.days_old);
    enqueue(&state, "cleanup", "cleanup_old_files", json!({ "days_old": q.days_old }), Some(user.id), message).await
}

/// Refreshes the planner's statistics (`ANALYZE`; never a blocking `VACUUM FULL`) (admins only).
#[utoipa::path(post, path = "/api/v1/tasks/maintenance/optimize-db", tag = "tasks", security(("HTTPBearer" = [])),
    responses((status = 200, body = TaskResponse), (status = 403, body = ErrorDetail)))]
pub async fn optimize_db(State(state): State<AppState>, user: CurrentUser) -> Result<Json<TaskResponse>> {
    require_admin(&user)?;
    enqueue(
        &state,
        "optimize_db",
        "optimize_database",
        json!({}),
        Some(user.id),
        "Database optimization started".into(),
    )
    .await
}

/// Checks the database, storage, Redis and disk space in the background (admins only).
#[utoipa::path(post, path = "/api/v1/tasks/maintenance/health-check", tag = "tasks", security(("HTTPBearer" = [])),
    responses((status = 200, body = TaskResponse), (status = 403, body = ErrorDetail)))]
pub async fn health_check(State(state): State<AppState>, user: CurrentUser) -> Result<Json<TaskResponse>> {
    require_admin(&user)?;
    enqueue(&state, "health_check", "health_check", json!({}), Some(user.id), "Health check started".into()).await
}

fn no_email() -> AppError {
    AppError::BadRequest("E-mail is not available: this service has no SMTP configuration".into())
}

/// The original's e-mail notification (admins only). No e-mail is configured here: 400.
#[utoipa::path(post, path = "/api/v1/tasks/send-notification", tag = "tasks", security(("HTTPBearer" = [])),
    responses((status = 400, description = "E-mail is not available", body = ErrorDetail), (status = 403, body = ErrorDetail)))]
pub async fn send_notification(user: CurrentUser) -> Result<Json<TaskResponse>> {
    require_admin(&user)?;
    Err(no_email())
}

/// The original's system alert by e-mail (admins only). No e-mail is configured here: 400.
#[utoipa::path(post, path = "/api/v1/tasks/system-alert", tag = "tasks", security(("HTTPBearer" = [])),
    responses((status = 400, description = "E-mail is not available", body = ErrorDetail), (status = 403, body = ErrorDetail)))]
pub async fn system_alert(user: CurrentUser) -> Result<Json<TaskResponse>> {
    require_admin(&user)?;
    Err(no_email())
}
