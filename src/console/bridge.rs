//! The console's way into the API: the signed-in user's requests for uploads (chunks, status,
//! finalising) and files (with `Range`) are handed, body streaming, to the API's own handlers
//! in-process, authenticated as that user with a short-lived token minted here. The browser never
//! sees a token; the API's rules (sizes, types, ownership, roles) apply unchanged.
//!
//! Only the paths listed in [`router`] pass. Every `POST` needs the session's CSRF token (header
//! `X-CSRF-Token`, or query `csrf` for the plain upload form); a plain form's `next=mine` turns a
//! success into a redirect to "my contributions". Export downloads pass their signed link's query
//! on; the API checks it and that the session's user may download the export.

use axum::{
    Extension, Router,
    body::Body,
    extract::{Request, State},
    http::{HeaderValue, Method, StatusCode, Uri, header},
    response::{IntoResponse, Redirect, Response},
    routing::{get, post},
};
use serde_json::Value;
use tower::ServiceExt;

use super::{CSRF_HEADER, csrf, session::ConsoleUser};
use crate::state::AppState;

/// The API router, called in-process.
#[derive(Clone)]
pub struct Api(pub Router);

impl std::fmt::Debug for Api {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Api")
    }
}

/// Routes of the bridge.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/console/api/records/upload", post(forward).layer(axum::extract::DefaultBodyLimit::disable()))
        .route("/console/api/records/upload/chunk", post(forward).layer(axum::extract::DefaultBodyLimit::disable()))
        .route("/console/api/records/upload/{upload_uuid}/status", get(forward))
        .route("/console/api/records/{record_id}/file", get(forward))
        .route("/console/api/tasks/exports/{task_id}/download", get(forward))
}

fn query_param<'a>(uri: &'a Uri, name: &str) -> Option<std::borrow::Cow<'a, str>> {
    form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes()).find(|(k, _)| k == name).map(|(_, v)| v)
}

async fn forward(
    State(state): State<AppState>,
    Extension(api): Extension<Api>,
    user: ConsoleUser,
    request: Request,
) -> Response {
    let (mut parts, body) = request.into_parts();
    let plain_form = query_param(&parts.uri, "next").is_some_and(|n| n == "mine");
    if parts.method == Method::POST {
        let given = parts
            .headers
            .get(&CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .or_else(|| query_param(&parts.uri, "csrf").map(|v| v.into_owned()))
            .unwrap_or_default();
        if !csrf::matches(&user.csrf, &given) {
            return csrf::rejected();
        }
    }
    let token = match state.tokens.issue(user.user.id) {
        Ok(token) => token,
        Err(e) => return crate::AppError::from(e).into_response(),
    };
    let path = parts.uri.path().trim_start_matches("/console/api");
    // An export download's signed link travels in its query; other paths take none.
    let query = match parts.uri.query() {
        Some(query) if path.starts_with("/tasks/exports/") => format!("?{query}"),
        _ => String::new(),
    };
    let Ok(uri) = format!("/api/v1{path}{query}").parse::<Uri>() else { return StatusCode::NOT_FOUND.into_response() };
    parts.uri = uri;
    // The console route's own path parameters must not reach the API's router (it would see
    // both routes' parameters); only the caller's address is kept.
    let connect = parts.extensions.get::<axum::extract::ConnectInfo<std::net::SocketAddr>>().cloned();
    parts.extensions = Default::default();
    if let Some(connect) = connect {
        parts.extensions.insert(connect);
    }
    parts.headers.remove(header::COOKIE);
    parts.headers.remove(&CSRF_HEADER);
    match HeaderValue::from_str(&format!("Bearer {token}")) {
        Ok(value) => parts.headers.insert(header::AUTHORIZATION, value),
        Err(_) => return StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    };
    let response = match api.0.oneshot(Request::from_parts(parts, body)).await {
        Ok(response) => response,
        Err(never) => match never {},
    };
    if plain_form {
        return finish_plain_form(user, response).await;
    }
    response
}

/// A plain (script-less) upload form: success goes to "my contributions", a refusal is shown as a
/// page with the API's message.
async fn finish_plain_form(user: ConsoleUser, response: Response) -> Response {
    if response.status().is_success() {
        return Redirect::to("/console/mine?uploaded=1").into_response();
    }
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 64 * 1024).await.unwrap_or_default();
    let detail = serde_json::from_slice::<Value>(&bytes)
        .ok()
        .and_then(|v| v.get("detail").and_then(Value::as_str).map(str::to_owned))
        .unwrap_or_else(|| status.canonical_reason().unwrap_or("Error").to_owned());
    let layout = super::Layout::for_user(&user, "contribute");
    let heading = layout.t("error");
    super::message(layout, status, heading, &detail)
}

/// Calls a JSON endpoint of the API in-process (sign-in, codes, sign-up), as anonymous, with the
/// caller's address; returns the status and the JSON answer.
pub async fn call_json(
    api: &Api,
    path: &str,
    body: Value,
    connect: Option<axum::extract::ConnectInfo<std::net::SocketAddr>>,
) -> (StatusCode, Value) {
    let mut request = Request::builder()
        .method(Method::POST)
        .uri(format!("/api/v1{path}"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .unwrap_or_default();
    if let Some(connect) = connect {
        request.extensions_mut().insert(connect);
    }
    let response = match api.0.clone().oneshot(request).await {
        Ok(response) => response,
        Err(never) => match never {},
    };
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 1024 * 1024).await.unwrap_or_default();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

/// The `detail` of an API error answer, for showing on a page.
pub fn detail(body: &Value) -> String {
    match body.get("detail") {
        Some(Value::String(s)) => s.clone(),
        _ => body
            .get("errors")
            .and_then(Value::as_array)
            .and_then(|errors| errors.first())
            .and_then(|e| e.get("msg"))
            .and_then(Value::as_str)
            .unwrap_or("Request refused")
            .to_owned(),
    }
}
