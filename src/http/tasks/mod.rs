//! Tasks (`/api/v1/tasks`): the original's Celery endpoints over the PostgreSQL job queue.
//!
//! Every route needs an authenticated caller (any role). Admin-only routes really check the
//! admin role (403 `Admin access required`); a task's status, cancellation and export download
//! are its owner's or an admin's (anyone else gets 404, so task ids are not revealed). Status
//! never answers 500 for a failed task: the failure is in `traceback`. The original's placeholders
//! with no real meaning (content analysis, language detection, e-mail without SMTP) answer a
//! clear 400 instead of queueing a job that would do nothing.

pub mod dataset;
pub mod enqueue;
pub mod exports;
pub mod lists;
pub mod maintenance;
pub mod reports;
pub mod shared;
pub mod status;

use axum::{
    Router,
    routing::{delete, get, post},
};

use crate::state::AppState;

/// Routes of this module.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/tasks/process-audio/{record_id}", post(enqueue::process_audio))
        .route("/tasks/batch-process", post(enqueue::batch_process))
        .route("/tasks/analyze-content/{record_id}", post(enqueue::analyze_content))
        .route("/tasks/batch-language-detection", post(enqueue::batch_language_detection))
        .route("/tasks/generate-statistics", post(reports::generate_statistics))
        .route("/tasks/send-notification", post(maintenance::send_notification))
        .route("/tasks/system-alert", post(maintenance::system_alert))
        .route("/tasks/status/{task_id}", get(status::task_status))
        .route("/tasks/cancel/{task_id}", delete(status::cancel_task))
        .route("/tasks/active", get(lists::active))
        .route("/tasks/scheduled", get(lists::scheduled))
        .route("/tasks/maintenance/cleanup", post(maintenance::cleanup))
        .route("/tasks/maintenance/optimize-db", post(maintenance::optimize_db))
        .route("/tasks/maintenance/health-check", post(maintenance::health_check))
        .route("/tasks/reports/daily", post(reports::daily))
        .route("/tasks/reports/user", post(reports::user))
        .route("/tasks/statistics", get(reports::statistics))
        .route("/tasks/export-data", post(exports::export_data))
        .route("/tasks/exports/{task_id}/download", get(exports::download))
        .route("/tasks/export-dataset", post(dataset::export_dataset))
}

/// OpenAPI paths of this module.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        enqueue::process_audio, enqueue::batch_process, enqueue::analyze_content, enqueue::batch_language_detection,
        reports::generate_statistics, maintenance::send_notification, maintenance::system_alert,
        status::task_status, status::cancel_task, lists::active, lists::scheduled,
        maintenance::cleanup, maintenance::optimize_db, maintenance::health_check,
        reports::daily, reports::user, reports::statistics, exports::export_data, exports::download,
        dataset::export_dataset,
    ),
    components(schemas(
        shared::TaskResponse, shared::TaskStatusResponse, shared::TaskListResponse, shared::TaskInfo,
        status::CancelResponse, dataset::ExportDatasetRequest,
    )),
    tags((name = "tasks", description = "Background jobs: enqueue, status, cancel, reports and exports"))
)]
pub struct TasksDoc;
