//! CSRF protection of every console form.
//!
//! Signed-in forms carry the session's token in a hidden `csrf` field ([`SessionForm`]); the
//! upload bridge takes it in an `X-CSRF-Token` header or a `csrf` query parameter. The forms
//! shown before a session exists (sign-in, codes, sign-up) use a double-submit token: a random
//! value in a cookie that the form must repeat ([`AnonForm`]). Either way the token is checked
//! before the body is interpreted, so a forged request is answered 403 and changes nothing.

use axum::{
    body::Bytes,
    extract::{FromRequest, FromRequestParts, Request},
    http::{HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};
use serde::de::DeserializeOwned;
use subtle::ConstantTimeEq;

use super::{
    Fail,
    session::{self, ConsoleUser},
};
use crate::state::AppState;

/// Name of the cookie holding the pre-session token.
pub const ANON_COOKIE: &str = "console_csrf";

/// Largest console form body (the upload form goes through the bridge, not here).
const FORM_MAX_BYTES: usize = 64 * 1024;

/// Whether `given` is the expected token (constant time; an empty expectation never matches).
pub fn matches(expected: &str, given: &str) -> bool {
    !expected.is_empty() && expected.as_bytes().ct_eq(given.as_bytes()).into()
}

/// The answer to a missing or wrong token.
pub fn rejected() -> Response {
    (StatusCode::FORBIDDEN, "Invalid or missing CSRF token").into_response()
}

/// The pre-session token of a request, and the cookie to set when it had none.
pub fn anon_token(state: &AppState, headers: &HeaderMap) -> (String, Option<HeaderValue>) {
    match session::cookie(headers, ANON_COOKIE).filter(|v| v.len() == 64) {
        Some(token) => (token.to_owned(), None),
        None => {
            let token = session::random_token();
            let cookie = session::set_cookie(ANON_COOKIE, &token, 24 * 3600, session::secure(state, headers));
            (token, Some(cookie))
        }
    }
}

/// The form's fields as pairs (repeated names kept, e.g. checkboxes).
pub type Pairs = Vec<(String, String)>;

async fn read_form(request: Request, state: &AppState) -> Result<Bytes, Fail> {
    let bytes = Bytes::from_request(request, state).await.map_err(|e| Fail::from(e.into_response()))?;
    if bytes.len() > FORM_MAX_BYTES {
        return Err(StatusCode::PAYLOAD_TOO_LARGE.into_response().into());
    }
    Ok(bytes)
}

fn field<'a>(pairs: &'a Pairs, name: &str) -> &'a str {
    pairs.iter().find(|(k, _)| k == name).map_or("", |(_, v)| v.as_str())
}

fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Fail> {
    serde_urlencoded::from_bytes(bytes)
        .map_err(|e| Fail::from((StatusCode::UNPROCESSABLE_ENTITY, format!("Invalid form: {e}")).into_response()))
}

/// A form posted by a signed-in user, its CSRF token checked.
pub struct SessionForm<T> {
    /// The user.
    pub user: ConsoleUser,
    /// The form.
    pub form: T,
    /// Every field as sent.
    pub pairs: Pairs,
}

impl<T: DeserializeOwned + Send> FromRequest<AppState> for SessionForm<T> {
    type Rejection = Fail;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = request.into_parts();
        let user = ConsoleUser::from_request_parts(&mut parts, state).await?;
        let bytes = read_form(Request::from_parts(parts, body), state).await?;
        let pairs: Pairs = form_urlencoded::parse(&bytes).into_owned().collect();
        if !matches(&user.csrf, field(&pairs, "csrf")) {
            tracing::warn!(user_id = %user.user.id, "console form with a missing or wrong CSRF token");
            return Err(rejected().into());
        }
        Ok(SessionForm { user, form: parse(&bytes)?, pairs })
    }
}

/// A form posted before signing in, its double-submit token checked.
pub struct AnonForm<T> {
    /// The form.
    pub form: T,
    /// The request's headers (cookies, language).
    pub headers: HeaderMap,
}

impl<T: DeserializeOwned + Send> FromRequest<AppState> for AnonForm<T> {
    type Rejection = Fail;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let headers = request.headers().clone();
        let bytes = read_form(request, state).await?;
        let pairs: Pairs = form_urlencoded::parse(&bytes).into_owned().collect();
        let expected = session::cookie(&headers, ANON_COOKIE).unwrap_or_default();
        if expected.len() != 64 || !matches(expected, field(&pairs, "csrf")) {
            return Err(rejected().into());
        }
        Ok(AnonForm { form: parse(&bytes)?, headers })
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn tokens_must_match_exactly_and_never_empty() {
        assert!(super::matches("abc", "abc"));
        assert!(!super::matches("abc", "abd"));
        assert!(!super::matches("abc", ""));
        assert!(!super::matches("", ""));
    }
}
