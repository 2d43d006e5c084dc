//! Request extractors whose rejections are the original's 422 shape, never a 500.
//!
//! [`ValidJson`], [`ValidQuery`] and [`ValidPath`] deserialize with `serde_path_to_error`, so a bad
//! field is reported at its location (`["body","location","latitude"]`), and then run the type's
//! [`Validate`] rules (lengths, ranges) into the same error list.
//!
//! [`validate`] holds the field rules, [`json`] and [`form`] the body and query parsers,
//! [`serde_errors`] the translation of serde's messages, [`echo`] what an error may repeat.

mod echo;
mod form;
mod json;
mod serde_errors;
mod validate;

use axum::{
    body::Bytes,
    extract::{FromRequest, FromRequestParts, Path, RawPathParams, Request, rejection::PathRejection},
    http::{header, request::Parts},
};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use self::json::refuse_nul;
pub use self::{
    echo::{ECHO_CHARS, ECHO_ITEMS, short_input},
    form::{parse_pairs, parse_urlencoded},
    json::{NUL_MESSAGE, check_body_shape, from_value, nul_location, parse_json_body},
    validate::{Validate, Validator},
};
use crate::error::{AppError, FieldError};

/// A JSON body, deserialized and validated; rejections are 422 in the original's shape (413 for
/// a body over the body limit, axum's default of 2 MiB).
#[derive(Debug, Clone)]
pub struct ValidJson<T>(pub T);

impl<S, T> FromRequest<S> for ValidJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Validate,
{
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let content_type = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_owned);
        // Over the body limit (axum's default, 2 MiB) is 413 in the API's `{"detail"}` shape.
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                AppError::PayloadTooLarge("Request body too large".into())
            } else {
                AppError::BadRequest(format!("Could not read the request body: {}", e.body_text()))
            }
        })?;
        // The original parses a body without Content-Type as JSON; any other declared type is refused.
        if let Some(ct) = content_type.as_deref() {
            let mime = ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
            if !(mime == "application/json" || mime.ends_with("+json")) {
                return Err(AppError::field(
                    FieldError::new("json_type", &["body"], "Expected a JSON body (Content-Type: application/json)")
                        .with_ctx(json!({ "content_type": ct })),
                ));
            }
        }
        let value = parse_json_body(&bytes)?;
        check_body_shape::<T>(&value)?;
        refuse_nul("body", &value)?;
        let parsed: T = from_value("body", value)?;
        Validator::check("body", &parsed)?;
        Ok(Self(parsed))
    }
}

/// Query parameters, deserialized and validated; rejections are 422 with `loc` `["query", ...]`.
#[derive(Debug, Clone)]
pub struct ValidQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for ValidQuery<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Validate,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or("");
        let parsed = parse_urlencoded::<T>("query", query.as_bytes())?;
        Validator::check("query", &parsed)?;
        Ok(Self(parsed))
    }
}

/// Path parameters; a value of the wrong type is a 422 with `loc` `["path", <name>]`.
#[derive(Debug, Clone)]
pub struct ValidPath<T>(pub T);

impl<S, T> FromRequestParts<S> for ValidPath<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Send,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(value)) => Ok(Self(value)),
            Err(PathRejection::FailedToDeserializePathParams(e)) => {
                use axum::extract::path::ErrorKind;
                let (key, value, expected) = match e.kind() {
                    ErrorKind::ParseErrorAtKey { key, value, expected_type } => {
                        (key.clone(), value.clone(), *expected_type)
                    }
                    ErrorKind::ParseError { value, expected_type } => (String::new(), value.clone(), *expected_type),
                    ErrorKind::DeserializeError { key, value, message } => {
                        let expected = if message.to_ascii_lowercase().contains("uuid") { "Uuid" } else { "" };
                        (key.clone(), value.clone(), expected)
                    }
                    // Types that parse themselves from a string (Uuid) fail with a bare message;
                    // name the single path parameter from the raw params instead.
                    ErrorKind::Message(message) => {
                        let raw = RawPathParams::from_request_parts(parts, state).await.ok();
                        let (key, value) = raw
                            .as_ref()
                            .and_then(|p| p.iter().next())
                            .map(|(k, v)| (k.to_owned(), v.to_owned()))
                            .unwrap_or_default();
                        let expected = if message.to_ascii_lowercase().contains("uuid") { "Uuid" } else { "" };
                        (key, value, expected)
                    }
                    other => return Err(AppError::BadRequest(other.to_string())),
                };
                let (kind, msg) = if expected.contains("Uuid") {
                    ("uuid_parsing", "Input should be a valid UUID")
                } else if expected.starts_with('i') || expected.starts_with('u') {
                    ("int_parsing", "Input should be a valid integer, unable to parse string as an integer")
                } else if expected.starts_with('f') {
                    ("float_parsing", "Input should be a valid number, unable to parse string as a number")
                } else {
                    ("value_error", "Invalid path parameter")
                };
                let mut loc = vec![Value::from("path")];
                if !key.is_empty() {
                    loc.push(key.into());
                }
                Err(AppError::field(FieldError {
                    kind: kind.into(),
                    loc,
                    msg: msg.into(),
                    input: Some(value.into()),
                    ctx: None,
                }))
            }
            Err(other) => Err(AppError::BadRequest(other.body_text())),
        }
    }
}

#[cfg(test)]
mod tests;
