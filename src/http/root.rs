//! `GET /`: the welcome document of the original.

use axum::{Json, Router, extract::State, routing::get};
use serde::Serialize;

use crate::state::AppState;

/// The service version shown by `GET /` (the original's, kept for clients that read it).
pub const API_VERSION: &str = "0.1.0";

/// Answer of `GET /`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RootResponse {
    /// `Welcome to <PROJECT_NAME>`.
    pub message: String,
    /// API version.
    pub version: &'static str,
    /// Where the interactive documentation is.
    pub docs: &'static str,
}

/// Routes of this module.
pub fn router() -> Router<AppState> {
    Router::new().route("/", get(root))
}

/// Welcome message with the API version and the documentation path.
#[utoipa::path(get, path = "/", tag = "root", responses((status = 200, body = RootResponse)))]
pub async fn root(State(state): State<AppState>) -> Json<RootResponse> {
    Json(RootResponse {
        message: format!("Welcome to {}", state.config.http.project_name),
        version: API_VERSION,
        docs: "/docs",
    })
}
