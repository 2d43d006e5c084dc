//! Liveness (`GET /health`, as the original answers it) and readiness (`GET /health/ready`).
//!
//! Readiness tells a load balancer whether to send this process traffic. Only what is this
//! process's own makes it unready: its database connection (without it no request can be
//! served). Redis and the object storage are shared by every replica: when they fail, they fail
//! for all of them at once, and taking every replica out of the pool would turn a partial outage
//! (uploads and rate-limited logins fail, everything else works) into a total one. So those
//! answer 200 with `"status":"degraded"` and the details.

use std::time::Duration;

use axum::{Json, Router, extract::State, http::StatusCode, response::IntoResponse, routing::get};
use serde::Serialize;

use crate::state::AppState;

/// Answer of `GET /health`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct HealthResponse {
    /// Always `healthy` while the process serves requests.
    pub status: &'static str,
}

/// One dependency's state in the readiness answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CheckResult {
    /// `ok` or `error`.
    pub status: &'static str,
    /// Time the check took, in milliseconds.
    pub latency_ms: u64,
    /// What went wrong (only on error).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Answer of `GET /health/ready`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ReadyResponse {
    /// `ready` (every check passed), `degraded` (the database answers but a shared dependency,
    /// Redis or the object storage, fails: still 200) or `not_ready` (the database does not
    /// answer: 503).
    pub status: &'static str,
    /// The database check.
    pub database: CheckResult,
    /// The object storage check.
    pub storage: CheckResult,
    /// The Redis check, when `REDIS_URL` is set (rate limits live there).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redis: Option<CheckResult>,
}

/// Routes of this module.
pub fn router() -> Router<AppState> {
    Router::new().route("/health", get(health)).route("/health/ready", get(ready))
}

/// Liveness: answers while the process is up, without touching dependencies.
#[utoipa::path(get, path = "/health", tag = "health", responses((status = 200, body = HealthResponse)))]
pub async fn health() -> Json<HealthResponse> {
    Json(HealthResponse { status: "healthy" })
}

/// Readiness: 503 only when this process cannot serve (its database does not answer); a failing
/// shared dependency (Redis, object storage) answers 200 with `"status":"degraded"`.
#[utoipa::path(get, path = "/health/ready", tag = "health", responses(
    (status = 200, body = ReadyResponse,
        description = "The database answers: `ready`, or `degraded` when Redis or the object storage fails"),
    (status = 503, body = ReadyResponse, description = "The database does not answer: this process cannot serve"),
))]
pub async fn ready(State(state): State<AppState>) -> impl IntoResponse {
    let db = timed(async { crate::db::ping(&state.db).await.map_err(|e| e.to_string()) });
    let storage = timed(async { state.storage.check().await.map_err(|e| format!("{e:#}")) });
    let redis = async {
        if state.limiter.is_shared() {
            Some(timed(async { state.limiter.check().await.map_err(|e| format!("{e:#}")) }).await)
        } else {
            None
        }
    };
    let (database, storage, redis) = tokio::join!(db, storage, redis);
    let can_serve = database.status == "ok";
    let shared_ok = storage.status == "ok" && redis.as_ref().is_none_or(|r| r.status == "ok");
    if !can_serve || !shared_ok {
        tracing::warn!(
            database = ?database.error,
            storage = ?storage.error,
            redis = ?redis.as_ref().and_then(|r| r.error.as_ref()),
            "readiness check: {}",
            if can_serve { "a shared dependency is degraded" } else { "the database does not answer" }
        );
    }
    let (code, status) = match (can_serve, shared_ok) {
        (false, _) => (StatusCode::SERVICE_UNAVAILABLE, "not_ready"),
        (true, false) => (StatusCode::OK, "degraded"),
        (true, true) => (StatusCode::OK, "ready"),
    };
    (code, Json(ReadyResponse { status, database, storage, redis }))
}

async fn timed(check: impl Future<Output = Result<(), String>>) -> CheckResult {
    let started = std::time::Instant::now();
    let result = tokio::time::timeout(Duration::from_secs(5), check)
        .await
        .unwrap_or_else(|_| Err("timed out after 5s".to_owned()));
    let latency_ms = started.elapsed().as_millis() as u64;
    match result {
        Ok(()) => CheckResult { status: "ok", latency_ms, error: None },
        Err(error) => CheckResult { status: "error", latency_ms, error: Some(error) },
    }
}
