//! Signing in (phone + password, or phone + a code by SMS), signing up by code with the consent
//! step, and signing out. The checks, rate limits and account creation are the API's own
//! (`/auth/login`, `/auth/login/send-otp`, `/auth/signup/...`), called in-process; a success
//! starts a console session instead of handing out a token.

use askama::Template;
use axum::{
    Extension,
    extract::{ConnectInfo, State},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Deserialize;
use serde_json::{Value, json};
use std::net::SocketAddr;

use super::{
    Layout, PageResult,
    bridge::{self, Api},
    csrf::{self, AnonForm, SessionForm},
    redirect_with_cookie, render,
    session::{self, SESSION_COOKIE},
};
use crate::{db::console_sessions, state::AppState};

#[derive(Template)]
#[template(path = "console/login.html")]
struct LoginPage {
    layout: Layout,
    phone: String,
    error: Option<String>,
    /// The code step: the phone a code went to.
    code_sent: bool,
}

#[derive(Template)]
#[template(path = "console/signup.html")]
struct SignupPage {
    layout: Layout,
    phone: String,
    name: String,
    error: Option<String>,
    code_sent: bool,
}

fn with_cookie(mut response: Response, cookie: Option<axum::http::HeaderValue>) -> Response {
    if let Some(cookie) = cookie {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

fn status(mut response: Response, status: StatusCode) -> Response {
    *response.status_mut() = status;
    response
}

/// `GET /console/login`.
pub async fn login_page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let (token, cookie) = csrf::anon_token(&state, &headers);
    let layout = Layout::anonymous(session::lang(&headers), token, "login");
    with_cookie(render(&LoginPage { layout, phone: String::new(), error: None, code_sent: false }), cookie)
}

/// `GET /console/signup`.
pub async fn signup_page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let (token, cookie) = csrf::anon_token(&state, &headers);
    let layout = Layout::anonymous(session::lang(&headers), token, "signup");
    let page = SignupPage { layout, phone: String::new(), name: String::new(), error: None, code_sent: false };
    with_cookie(render(&page), cookie)
}

fn anon_layout(state: &AppState, headers: &HeaderMap, active: &'static str) -> Layout {
    Layout::anonymous(session::lang(headers), csrf::anon_token(state, headers).0, active)
}

/// The user an API token names.
fn token_user(state: &AppState, body: &Value) -> Option<uuid::Uuid> {
    let token = body.get("access_token")?.as_str()?;
    uuid::Uuid::parse_str(&state.tokens.verify(token).ok()?.sub).ok()
}

async fn signed_in(state: &AppState, headers: &HeaderMap, body: &Value) -> PageResult {
    let user_id =
        token_user(state, body).ok_or_else(|| anyhow::anyhow!("the API answered a sign-in without a token"))?;
    let cookie = session::start(state, headers, user_id).await?;
    Ok(redirect_with_cookie("/console/", cookie))
}

/// Password sign-in form.
#[derive(Debug, Deserialize)]
pub struct PasswordForm {
    phone: String,
    password: String,
}

/// `POST /console/login`: phone + password.
pub async fn login_password(
    State(state): State<AppState>,
    Extension(api): Extension<Api>,
    connect: Option<Extension<ConnectInfo<SocketAddr>>>,
    AnonForm { form, headers }: AnonForm<PasswordForm>,
) -> PageResult {
    let (code, body) = bridge::call_json(
        &api,
        "/auth/login",
        json!({"phone": form.phone.trim(), "password": form.password}),
        connect.map(|Extension(c)| c),
    )
    .await;
    if code.is_success() {
        return signed_in(&state, &headers, &body).await;
    }
    let layout = anon_layout(&state, &headers, "login");
    let page = LoginPage { layout, phone: form.phone, error: Some(bridge::detail(&body)), code_sent: false };
    Ok(status(render(&page), code))
}

/// Phone form (code sign-in and sign-up's first step).
#[derive(Debug, Deserialize)]
pub struct PhoneForm {
    phone: String,
    #[serde(default)]
    name: String,
}

/// Asks the API at `path` to send a code to `phone`: its status, and its message when it refused.
async fn send_code(
    api: &Api,
    path: &str,
    phone: &str,
    connect: Option<Extension<ConnectInfo<SocketAddr>>>,
) -> (StatusCode, Option<String>) {
    let (code, body) =
        bridge::call_json(api, path, json!({"phone_number": phone.trim()}), connect.map(|Extension(c)| c)).await;
    (code, (!code.is_success()).then(|| bridge::detail(&body)))
}

/// `POST /console/login/otp`: sends a sign-in code.
pub async fn login_send_code(
    State(state): State<AppState>,
    Extension(api): Extension<Api>,
    connect: Option<Extension<ConnectInfo<SocketAddr>>>,
    AnonForm { form, headers }: AnonForm<PhoneForm>,
) -> PageResult {
    let (code, error) = send_code(&api, "/auth/login/send-otp", &form.phone, connect).await;
    let layout = anon_layout(&state, &headers, "login");
    let page = LoginPage { layout, phone: form.phone, code_sent: code.is_success(), error };
    Ok(status(render(&page), code))
}

/// Code form of sign-in.
#[derive(Debug, Deserialize)]
pub struct CodeForm {
    phone: String,
    code: String,
}

/// `POST /console/login/otp/verify`: signs in with the code.
pub async fn login_verify_code(
    State(state): State<AppState>,
    Extension(api): Extension<Api>,
    connect: Option<Extension<ConnectInfo<SocketAddr>>>,
    AnonForm { form, headers }: AnonForm<CodeForm>,
) -> PageResult {
    let request = json!({"phone_number": form.phone.trim(), "otp_code": form.code.trim(), "has_given_consent": false});
    let (code, body) = bridge::call_json(&api, "/auth/login/verify-otp", request, connect.map(|Extension(c)| c)).await;
    if code.is_success() {
        return signed_in(&state, &headers, &body).await;
    }
    let layout = anon_layout(&state, &headers, "login");
    let page = LoginPage { layout, phone: form.phone, error: Some(bridge::detail(&body)), code_sent: true };
    Ok(status(render(&page), code))
}

/// `POST /console/signup`: sends a sign-up code.
pub async fn signup_send_code(
    State(state): State<AppState>,
    Extension(api): Extension<Api>,
    connect: Option<Extension<ConnectInfo<SocketAddr>>>,
    AnonForm { form, headers }: AnonForm<PhoneForm>,
) -> PageResult {
    let (code, error) = send_code(&api, "/auth/signup/send-otp", &form.phone, connect).await;
    let layout = anon_layout(&state, &headers, "signup");
    let page = SignupPage { layout, phone: form.phone, name: form.name, code_sent: code.is_success(), error };
    Ok(status(render(&page), code))
}

/// The last step of sign-up: code, name, consent.
#[derive(Debug, Deserialize)]
pub struct SignupForm {
    phone: String,
    name: String,
    code: String,
    #[serde(default)]
    consent: Option<String>,
}

/// `POST /console/signup/verify`: creates the account (consent required) and signs in.
pub async fn signup_verify(
    State(state): State<AppState>,
    Extension(api): Extension<Api>,
    connect: Option<Extension<ConnectInfo<SocketAddr>>>,
    AnonForm { form, headers }: AnonForm<SignupForm>,
) -> PageResult {
    let layout = anon_layout(&state, &headers, "signup");
    if form.consent.is_none() {
        let error = Some(layout.t("consent_required").to_owned());
        let page = SignupPage { layout, phone: form.phone, name: form.name, error, code_sent: true };
        return Ok(status(render(&page), StatusCode::BAD_REQUEST));
    }
    let request = json!({
        "phone_number": form.phone.trim(), "otp_code": form.code.trim(), "name": form.name.trim(),
        "has_given_consent": true,
    });
    let (code, body) = bridge::call_json(&api, "/auth/signup/verify-otp", request, connect.map(|Extension(c)| c)).await;
    if code.is_success() {
        return signed_in(&state, &headers, &body).await;
    }
    let page =
        SignupPage { layout, phone: form.phone, name: form.name, error: Some(bridge::detail(&body)), code_sent: true };
    Ok(status(render(&page), code))
}

/// The logout form (only the token).
#[derive(Debug, Deserialize)]
pub struct Empty {}

/// `POST /console/logout`: ends the session and clears the cookie.
pub async fn logout(State(state): State<AppState>, headers: HeaderMap, form: SessionForm<Empty>) -> PageResult {
    console_sessions::delete(&state.db, &form.user.id_hash).await?;
    tracing::info!(user_id = %form.user.user.id, "console session ended");
    let cookie = session::set_cookie(SESSION_COOKIE, "", 0, session::secure(&state, &headers));
    Ok(redirect_with_cookie("/console/login", cookie).into_response())
}
