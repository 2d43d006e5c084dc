//! Statistics and reports: the admin statistics endpoint, and report jobs.

use axum::{Json, extract::State};
use chrono::NaiveDate;
use serde::Deserialize;
use serde_json::json;

use super::shared::{TaskResponse, enqueue, require_admin};
use crate::{
    auth::CurrentUser,
    db::statistics::{self, CorpusStatistics, Scope},
    error::{AppError, ErrorDetail, Result, ValidationErrorBody},
    http::{ValidQuery, Validate, Validator},
    state::AppState,
};

/// Query of `POST /tasks/generate-statistics`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct GenerateStatisticsQuery {
    /// Only the caller's records (always so for callers who are not admins).
    #[serde(default)]
    pub user_specific: bool,
}

impl Validate for GenerateStatisticsQuery {
    fn validate(&self, _v: &mut Validator) {}
}

/// Computes corpus statistics in the background (per category, media type, language,
/// contributor, day; total hours); the result is the task's. Admins get the whole corpus unless
/// `user_specific`; everyone else gets their own records.
#[utoipa::path(post, path = "/api/v1/tasks/generate-statistics", tag = "tasks", security(("HTTPBearer" = [])),
    params(GenerateStatisticsQuery),
    responses((status = 200, body = TaskResponse), (status = 422, body = ValidationErrorBody)))]
pub async fn generate_statistics(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidQuery(q): ValidQuery<GenerateStatisticsQuery>,
) -> Result<Json<TaskResponse>> {
    let for_user = (q.user_specific || !user.is_admin()).then_some(user.id);
    let args = json!({ "user_id": for_user });
    enqueue(
        &state,
        "generate_statistics",
        "generate_corpus_statistics",
        args,
        Some(user.id),
        "Statistics generation started".into(),
    )
    .await
}

/// Query of `GET /tasks/statistics`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StatisticsQuery {
    /// Days of history per day.
    #[serde(default = "default_days")]
    #[param(minimum = 1, maximum = 366, default = 30)]
    pub days: i64,
    /// Top contributors listed.
    #[serde(default = "default_top")]
    #[param(minimum = 1, maximum = 100, default = 10)]
    pub top: i64,
}

fn default_days() -> i64 {
    30
}

fn default_top() -> i64 {
    10
}

impl Validate for StatisticsQuery {
    fn validate(&self, v: &mut Validator) {
        v.range_i64("days", self.days, 1, 366);
        v.range_i64("top", self.top, 1, 100);
    }
}

/// Corpus statistics now (admins only): totals per category, media type, language,
/// contributor and day, total hours, review backlog. Durations flagged implausible never count.
#[utoipa::path(get, path = "/api/v1/tasks/statistics", tag = "tasks", security(("HTTPBearer" = [])),
    params(StatisticsQuery),
    responses((status = 200, body = CorpusStatistics), (status = 403, body = ErrorDetail), (status = 422, body = ValidationErrorBody)))]
pub async fn statistics(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidQuery(q): ValidQuery<StatisticsQuery>,
) -> Result<Json<CorpusStatistics>> {
    require_admin(&user)?;
    let mut conn = state.db.acquire().await?;
    Ok(Json(statistics::corpus(&mut conn, Scope { days: q.days, top: q.top }).await?))
}

fn parse_date(field: &str, raw: Option<&str>) -> Result<Option<NaiveDate>> {
    match raw.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .map(Some)
            .map_err(|_| AppError::BadRequest(format!("Invalid {field}: expected YYYY-MM-DD"))),
    }
}

/// Query of `POST /tasks/reports/daily`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DailyQuery {
    /// The day (`YYYY-MM-DD`, UTC); yesterday when absent.
    pub report_date: Option<String>,
}

impl Validate for DailyQuery {
    fn validate(&self, _v: &mut Validator) {}
}

/// Builds the daily activity report (JSON result) in the background (admins only).
#[utoipa::path(post, path = "/api/v1/tasks/reports/daily", tag = "tasks", security(("HTTPBearer" = [])),
    params(DailyQuery),
    responses((status = 200, body = TaskResponse), (status = 400, body = ErrorDetail), (status = 403, body = ErrorDetail)))]
pub async fn daily(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidQuery(q): ValidQuery<DailyQuery>,
) -> Result<Json<TaskResponse>> {
    require_admin(&user)?;
    let date = parse_date("report_date", q.report_date.as_deref())?;
    enqueue(
        &state,
        "daily_report",
        "generate_daily_report",
        json!({ "report_date": date }),
        Some(user.id),
        "Daily report generation started".into(),
    )
    .await
}

/// Query of `POST /tasks/reports/user`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UserReportQuery {
    /// The user (UUID); the caller when absent. Only admins may name someone else.
    pub target_user_id: Option<String>,
    /// First day (`YYYY-MM-DD`); 30 days before `end_date` when absent.
    pub start_date: Option<String>,
    /// Last day (`YYYY-MM-DD`); today when absent.
    pub end_date: Option<String>,
}

impl Validate for UserReportQuery {
    fn validate(&self, _v: &mut Validator) {}
}

/// Builds a user's activity report (JSON result) in the background: the caller's own, or
/// anyone's for admins.
#[utoipa::path(post, path = "/api/v1/tasks/reports/user", tag = "tasks", security(("HTTPBearer" = [])),
    params(UserReportQuery),
    responses((status = 200, body = TaskResponse), (status = 400, body = ErrorDetail), (status = 403, body = ErrorDetail),
        (status = 404, body = ErrorDetail)))]
pub async fn user(
    State(state): State<AppState>,
    user: CurrentUser,
    ValidQuery(q): ValidQuery<UserReportQuery>,
) -> Result<Json<TaskResponse>> {
    let target = match q.target_user_id.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => user.id,
        Some(raw) => match uuid::Uuid::parse_str(raw) {
            Ok(id) => id,
            // The original took an integer id, which names no user here.
            Err(_) if raw.bytes().all(|b| b.is_ascii_digit()) => {
                return Err(AppError::NotFound("User not found".into()));
            }
            Err(_) => return Err(AppError::BadRequest("Invalid user ID format".into())),
        },
    };
    if target != user.id {
        require_admin(&user)?;
    }
    if !crate::db::accounts::user_exists(&state.db, target).await? {
        return Err(AppError::NotFound("User not found".into()));
    }
    let start = parse_date("start_date", q.start_date.as_deref())?;
    let end = parse_date("end_date", q.end_date.as_deref())?;
    if let (Some(start), Some(end)) = (start, end)
        && start > end
    {
        return Err(AppError::BadRequest("start_date is after end_date".into()));
    }
    let args = json!({ "user_id": target, "start_date": start, "end_date": end });
    let message = format!("User report generation started for user {target}");
    enqueue(&state, "user_report", "generate_user_report", args, Some(user.id), message).await
}
