//! The web console at `/console`: server-rendered pages (askama templates in
//! `templates/console/`) for contributors, reviewers and admins, in Telugu and English.
//!
//! Pages work without JavaScript; the small vendored script (`assets/console/console.js`) adds
//! only the upload progress bar, resumable chunked uploads, in-page audio recording and the
//! review shortcuts. Browsers hold a session cookie ([`session`]), never a token; every form is
//! CSRF-checked ([`csrf`]). Writes that the API already performs with its own rules (sign-in,
//! codes, sign-up, uploads, file streaming) go through the API's own handlers in-process
//! ([`bridge`]) as the signed-in user; the rest call the `db` layer directly.

pub mod admin;
pub mod assets;
pub mod bridge;
pub mod contribute;
pub mod csrf;
pub mod dashboard;
pub mod exports;
pub mod i18n;
pub mod review;
pub mod session;
pub mod signin;

use askama::Template;
use axum::{
    Extension, Router,
    extract::{Path, Query},
    http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header},
    response::{Html, IntoResponse, Redirect, Response},
    routing::{get, post},
};
use serde::Deserialize;
use tower_http::set_header::SetResponseHeaderLayer;

use self::{
    i18n::{Lang, Tr},
    session::ConsoleUser,
};
use crate::{domain::RoleName, state::AppState};

/// The console's routes; `api` is the API router the bridge calls in-process.
pub fn router(api: Router) -> Router<AppState> {
    Router::new()
        .route("/console", get(|| async { Redirect::to("/console/") }))
        .route("/console/", get(home))
        .route("/console/lang/{code}", get(switch_language))
        .route("/console/assets/{name}", get(assets::serve))
        .route("/console/login", get(signin::login_page).post(signin::login_password))
        .route("/console/login/otp", post(signin::login_send_code))
        .route("/console/login/otp/verify", post(signin::login_verify_code))
        .route("/console/signup", get(signin::signup_page).post(signin::signup_send_code))
        .route("/console/signup/verify", post(signin::signup_verify))
        .route("/console/logout", post(signin::logout))
        .route("/console/contribute", get(contribute::page))
        .route("/console/mine", get(contribute::mine))
        .route("/console/review", get(review::page))
        .route("/console/review/{record_id}", post(review::decide))
        .route("/console/admin", get(dashboard::page))
        .route("/console/admin/users", get(admin::users))
        .route("/console/admin/users/{user_id}/active", post(admin::set_active))
        .route("/console/admin/users/{user_id}/roles", post(admin::set_roles))
        .route("/console/admin/categories", get(admin::categories).post(admin::create_category))
        .route("/console/admin/categories/{category_id}", post(admin::update_category))
        .route("/console/admin/exports", get(exports::page).post(exports::start))
        .route("/console/admin/exports/{job_id}/cancel", post(exports::cancel))
        .merge(bridge::router())
        .layer(Extension(bridge::Api(api)))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; style-src 'self'; \
                 script-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
            ),
        ))
        .layer(SetResponseHeaderLayer::overriding(header::CACHE_CONTROL, |response: &Response| {
            // Pages are per user; assets set their own caching.
            if response.headers().contains_key(header::CACHE_CONTROL) {
                None
            } else {
                Some(HeaderValue::from_static("no-store"))
            }
        }))
}

/// What every page's frame needs: strings, the user in the navigation, the CSRF token.
#[derive(Debug, Clone)]
pub struct Layout {
    /// Strings of the page's language.
    pub tr: Tr,
    /// The page's language.
    pub lang: Lang,
    /// The language the switch offers.
    pub other: Lang,
    /// The token forms send back.
    pub csrf: String,
    /// The signed-in user's name, if any.
    pub user_name: Option<String>,
    /// Show reviewer links.
    pub is_staff: bool,
    /// Show admin links.
    pub is_admin: bool,
    /// Which navigation entry is current.
    pub active: &'static str,
}

impl Layout {
    /// The frame of a signed-in page.
    pub fn for_user(user: &ConsoleUser, active: &'static str) -> Self {
        Layout {
            tr: Tr(user.lang),
            lang: user.lang,
            other: user.lang.other(),
            csrf: user.csrf.clone(),
            user_name: Some(user.user.identity.user.name.clone()),
            is_staff: user.is_staff(),
            is_admin: user.is_admin(),
            active,
        }
    }

    /// The frame of a page shown before signing in.
    pub fn anonymous(lang: Lang, csrf: String, active: &'static str) -> Self {
        Layout {
            tr: Tr(lang),
            lang,
            other: lang.other(),
            csrf,
            user_name: None,
            is_staff: false,
            is_admin: false,
            active,
        }
    }

    /// The string for `key`.
    pub fn t(&self, key: &str) -> &'static str {
        self.tr.t(key)
    }

    /// Appended to asset URLs, so an upgrade is fetched at once despite caching.
    pub fn version(&self) -> &'static str {
        assets::VERSION
    }
}

/// Renders a template as an HTML page.
pub fn render(template: &impl Template) -> Response {
    match template.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => Fail::from(anyhow::anyhow!("rendering a console page: {e}")).into_response(),
    }
}

/// A failure while building a page: logged once, answered with a plain page that reveals nothing.
#[derive(Debug)]
pub struct Fail(Box<Response>);

impl IntoResponse for Fail {
    fn into_response(self) -> Response {
        *self.0
    }
}

impl From<Response> for Fail {
    fn from(response: Response) -> Self {
        Fail(Box::new(response))
    }
}

impl From<crate::AppError> for Fail {
    fn from(e: crate::AppError) -> Self {
        let text = e.to_string();
        let response = e.into_response();
        if !response.status().is_client_error() {
            return Fail(Box::new(response));
        }
        // A refusal is shown as a small page with the API's message (a server error keeps the
        // API's opaque answer, logged once where it is made).
        let status = response.status();
        Fail(Box::new(
            (
                status,
                Html(format!(
                    "<!doctype html><html><head><meta charset=\"utf-8\"><title>{status}</title>\
                     <link rel=\"stylesheet\" href=\"/console/assets/console.css\"></head><body><main>\
                     <h1>{status}</h1><p class=\"error\">{}</p><p><a href=\"/console/\">&larr;</a></p></main></body></html>",
                    escape(&text)
                )),
            )
                .into_response(),
        ))
    }
}

impl From<sqlx::Error> for Fail {
    fn from(e: sqlx::Error) -> Self {
        Fail(Box::new(crate::AppError::from(e).into_response()))
    }
}

impl From<anyhow::Error> for Fail {
    fn from(e: anyhow::Error) -> Self {
        Fail(Box::new(crate::AppError::from(e).into_response()))
    }
}

/// A page's result.
pub type PageResult = Result<Response, Fail>;

#[derive(Template)]
#[template(path = "console/message.html")]
struct MessagePage<'a> {
    layout: Layout,
    heading: &'a str,
    message: &'a str,
}

/// A page with one message and a status (errors, 403).
pub fn message(layout: Layout, status: StatusCode, heading: &str, message: &str) -> Response {
    let mut response = render(&MessagePage { layout, heading, message });
    *response.status_mut() = status;
    response
}

/// 403 unless the user holds one of `roles`.
pub fn require(user: &ConsoleUser, roles: &[RoleName], active: &'static str) -> Result<(), Fail> {
    if roles.iter().any(|r| user.has(*r)) {
        return Ok(());
    }
    let layout = Layout::for_user(user, active);
    let text = layout.t("forbidden");
    Err(Fail(Box::new(message(layout, StatusCode::FORBIDDEN, "403", text))))
}

/// The console's start: each user lands where their work is.
async fn home(user: ConsoleUser) -> Redirect {
    if user.is_admin() {
        Redirect::to("/console/admin")
    } else if user.is_staff() {
        Redirect::to("/console/review")
    } else {
        Redirect::to("/console/contribute")
    }
}

#[derive(Debug, Deserialize)]
struct Next {
    next: Option<String>,
}

/// Sets the language cookie and goes back to the page the switch was on.
async fn switch_language(
    axum::extract::State(state): axum::extract::State<AppState>,
    headers: HeaderMap,
    Path(code): Path<String>,
    Query(q): Query<Next>,
) -> Response {
    let lang = Lang::parse(&code).unwrap_or_default();
    // Only a path of the console itself: never an open redirect.
    let next = q
        .next
        .filter(|n| n.starts_with("/console/") && !n.starts_with("//") && !n.contains('\\'))
        .unwrap_or_else(|| "/console/".into());
    let cookie =
        session::set_cookie(session::LANG_COOKIE, lang.code(), 365 * 24 * 3600, session::secure(&state, &headers));
    let mut response = Redirect::to(&next).into_response();
    response.headers_mut().append(header::SET_COOKIE, cookie);
    response
}

/// A redirect that also sets a cookie.
pub fn redirect_with_cookie(to: &str, cookie: HeaderValue) -> Response {
    let mut response = Redirect::to(to).into_response();
    response.headers_mut().append(header::SET_COOKIE, cookie);
    response
}

/// Header name of the bridge's CSRF token.
pub static CSRF_HEADER: HeaderName = HeaderName::from_static("x-csrf-token");

/// HTML-escapes text placed in a hand-written page.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}
