//! Browser sessions: the cookie, the signed-in user it names, and the language preference.
//!
//! The cookie holds 32 random bytes (hex); the database keeps only their SHA-256, so reading
//! the table does not give anyone a usable cookie. The cookie is `HttpOnly`, `SameSite=Lax`,
//! scoped to `/console`, and `Secure` in production or when the request came over https.

use axum::{
    extract::FromRequestParts,
    http::{HeaderMap, HeaderValue, StatusCode, header, request::Parts},
    response::{IntoResponse, Redirect, Response},
};
use chrono::{Duration, Utc};
use rand::RngCore;
use sha2::{Digest, Sha256};

use super::i18n::Lang;
use crate::{auth::CurrentUser, db::console_sessions, domain::RoleName, state::AppState};

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "corpus_console";
/// Name of the language cookie.
pub const LANG_COOKIE: &str = "console_lang";
/// How long a session lasts without use (it slides with each request).
pub const SESSION_IDLE_HOURS: i64 = 12;

/// 32 random bytes, hex.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// What the database stores of a session id.
pub fn hash_id(id: &str) -> String {
    hex::encode(Sha256::digest(id.as_bytes()))
}

/// The value of cookie `name`, if the request has it.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
}

/// Whether cookies set on this request must be `Secure`: always in production, and whenever the
/// request arrived over https (directly or as a proxy says).
pub fn secure(state: &AppState, headers: &HeaderMap) -> bool {
    !state.config.is_development()
        || headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("https"))
}

/// A `Set-Cookie` value for the console's path.
pub fn set_cookie(name: &str, value: &str, max_age_seconds: i64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    let value = format!("{name}={value}; Path=/console; Max-Age={max_age_seconds}; HttpOnly; SameSite=Lax{secure}");
    HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// The language a request asked for (cookie), Telugu by default.
pub fn lang(headers: &HeaderMap) -> Lang {
    cookie(headers, LANG_COOKIE).and_then(Lang::parse).unwrap_or_default()
}

/// Starts a session for `user_id`; returns the cookie to set.
pub async fn start(state: &AppState, headers: &HeaderMap, user_id: uuid::Uuid) -> crate::Result<HeaderValue> {
    // Expired sessions are removed as new ones begin (indexed on the expiry, so cheap).
    console_sessions::delete_expired(&state.db).await?;
    let id = random_token();
    let expires = Utc::now() + Duration::hours(SESSION_IDLE_HOURS);
    console_sessions::insert(&state.db, &hash_id(&id), user_id, &random_token(), expires).await?;
    tracing::info!(user_id = %user_id, "console session started");
    Ok(set_cookie(SESSION_COOKIE, &id, SESSION_IDLE_HOURS * 3600, secure(state, headers)))
}

/// The signed-in user of a console request. Pages without one redirect to the sign-in page;
/// the file and upload bridge answers 401.
#[derive(Debug, Clone)]
pub struct ConsoleUser {
    /// The user, with the roles held now.
    pub user: CurrentUser,
    /// This session's CSRF token.
    pub csrf: String,
    /// Hash of the session id (logout).
    pub id_hash: String,
    /// The language of the pages.
    pub lang: Lang,
}

impl ConsoleUser {
    /// Whether the user holds `role`.
    pub fn has(&self, role: RoleName) -> bool {
        self.user.has(role)
    }

    /// Reviewers and admins.
    pub fn is_staff(&self) -> bool {
        self.user.is_staff()
    }

    /// Admins.
    pub fn is_admin(&self) -> bool {
        self.user.is_admin()
    }
}

impl FromRequestParts<AppState> for ConsoleUser {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let anonymous = || {
            if parts.uri.path().starts_with("/console/api/") {
                (StatusCode::UNAUTHORIZED, "Not signed in").into_response()
            } else {
                Redirect::to("/console/login").into_response()
            }
        };
        let Some(id) = cookie(&parts.headers, SESSION_COOKIE).filter(|v| v.len() == 64) else {
            return Err(anonymous());
        };
        let id_hash = hash_id(id);
        let renew = Utc::now() + Duration::hours(SESSION_IDLE_HOURS);
        let session = match console_sessions::touch(&state.db, &id_hash, renew).await {
            Ok(Some(session)) => session,
            Ok(None) => return Err(anonymous()),
            Err(e) => return Err(crate::AppError::from(e).into_response()),
        };
        let identity = match state.identities.get(&state.db, session.user_id).await {
            Ok(Some(identity)) if identity.user.is_active => identity,
            Ok(_) => return Err(anonymous()),
            Err(e) => return Err(crate::AppError::from(e).into_response()),
        };
        Ok(ConsoleUser {
            user: CurrentUser::from_identity(identity),
            csrf: session.csrf_token,
            id_hash,
            lang: lang(&parts.headers),
        })
    }
}
