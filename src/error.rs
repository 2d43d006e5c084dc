//! The one error type at the HTTP boundary.
//!
//! Client errors carry a safe message and answer `{"detail": "<message>"}`; validation errors
//! answer 422 `{"detail":"Validation error","errors":[...]}` in the original's (pydantic) shape.
//! Internal errors are logged once, with their cause chain, and answer an opaque 500, except
//! when the cause is a dependency that is down or full (the database unreachable or its pool
//! exhausted, a disk out of space): that is a 503 with `Retry-After`, as every 503 is.

use axum::{
    Json,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Serialize;
use serde_json::Value;

/// Seconds a client is asked to wait (`Retry-After`) before retrying a 503.
pub const RETRY_AFTER_SECONDS: u32 = 5;

/// Message of a 503 caused by a dependency that is down (the database, Redis).
pub const UNAVAILABLE_MESSAGE: &str = "Service temporarily unavailable. Please try again later.";

/// Message of a 503 caused by a full disk or an exhausted quota.
pub const STORAGE_FULL_MESSAGE: &str = "Insufficient storage space. Please try again later.";

/// Result alias used by handlers and database functions.
pub type Result<T, E = AppError> = std::result::Result<T, E>;

/// One entry of a 422 answer, shaped like a pydantic error.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct FieldError {
    /// Machine-readable kind, e.g. `missing`, `string_too_short`, `uuid_parsing`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Where the bad value was, e.g. `["body","phone"]`.
    #[schema(value_type = Vec<Object>)]
    pub loc: Vec<Value>,
    /// Human-readable message.
    pub msg: String,
    /// The offending input, when it is safe to echo.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub input: Option<Value>,
    /// Extra context, e.g. `{"max_length": 20}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub ctx: Option<Value>,
}

impl FieldError {
    /// A field error at `loc` (e.g. `["body", "phone"]`).
    pub fn new(kind: &str, loc: &[&str], msg: impl Into<String>) -> Self {
        Self {
            kind: kind.to_owned(),
            loc: loc.iter().map(|s| Value::from(*s)).collect(),
            msg: msg.into(),
            input: None,
            ctx: None,
        }
    }

    /// Adds the offending input.
    pub fn with_input(mut self, input: impl Into<Value>) -> Self {
        self.input = Some(input.into());
        self
    }

    /// Adds context.
    pub fn with_ctx(mut self, ctx: Value) -> Self {
        self.ctx = Some(ctx);
        self
    }
}

/// Every error a request can end in.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// 400 with a message.
    #[error("{0}")]
    BadRequest(String),
    /// 401 with a message and `WWW-Authenticate: Bearer`.
    #[error("{0}")]
    Unauthorized(String),
    /// 401 with a message and no `WWW-Authenticate` header (the original's OTP answers).
    #[error("{0}")]
    UnauthorizedPlain(String),
    /// 403 with a message.
    #[error("{0}")]
    Forbidden(String),
    /// 404 with a message.
    #[error("{0}")]
    NotFound(String),
    /// 409 with a message.
    #[error("{0}")]
    Conflict(String),
    /// 413 with a message.
    #[error("{0}")]
    PayloadTooLarge(String),
    /// 415 with a message.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// 429 with a message.
    #[error("{0}")]
    TooManyRequests(String),
    /// 503 with a message and `Retry-After`.
    #[error("{0}")]
    ServiceUnavailable(String),
    /// 502 with a message (an upstream such as the SMS gateway failed).
    #[error("{0}")]
    BadGateway(String),
    /// 422 with pydantic-shaped errors.
    #[error("validation error")]
    Validation(Vec<FieldError>),
    /// A database failure: logged, answered as an opaque 500 (503 with `Retry-After` when the
    /// database cannot be reached or no pooled connection freed up in time).
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    /// Anything else unexpected: logged, answered as an opaque 500 (503 with `Retry-After` when
    /// its cause is an unreachable database or a full disk).
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// Error body of every non-validation error.
///
/// The one envelope of the API: it is what [`AppError`] answers and the schema every handler's
/// `responses(...)` names (component `ErrorDetail`).
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
#[schema(description = "Error body of every non-validation error.")]
pub struct ErrorDetail {
    /// Human-readable message.
    pub detail: String,
}

impl ErrorDetail {
    /// The body for `message`.
    pub fn new(message: impl Into<String>) -> Self {
        Self { detail: message.into() }
    }
}

/// Body of a 422 answer.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct ValidationErrorBody {
    /// Always `Validation error`.
    #[schema(value_type = String)]
    pub detail: &'static str,
    /// One entry per problem.
    pub errors: Vec<FieldError>,
}

/// The `detail` of every 422.
pub const VALIDATION_ERROR: &str = "Validation error";

impl AppError {
    /// A single-field 422.
    pub fn field(error: FieldError) -> Self {
        Self::Validation(vec![error])
    }

    /// The error for a failed local write (a spooled upload, a stored file) of `what`: a full disk
    /// or an exhausted quota (`ENOSPC`, `EDQUOT`) is a 503 with `Retry-After` (the client can
    /// retry once space is freed); anything else is an internal error.
    pub fn from_io_write(err: std::io::Error, what: &str) -> Self {
        if is_storage_full(&err) {
            tracing::error!(error = %err, what, "write failed: no space left");
            Self::ServiceUnavailable(STORAGE_FULL_MESSAGE.into())
        } else {
            Self::Internal(anyhow::Error::new(err).context(format!("writing {what}")))
        }
    }

    /// What a dependency-down internal error answers, if this is one.
    fn unavailable(&self) -> Option<&'static str> {
        match self {
            Self::Database(err) if db_unavailable(err) => Some(UNAVAILABLE_MESSAGE),
            Self::Internal(err) => err.chain().find_map(|cause| {
                if let Some(db) = cause.downcast_ref::<sqlx::Error>() {
                    db_unavailable(db).then_some(UNAVAILABLE_MESSAGE)
                } else if let Some(io) = cause.downcast_ref::<std::io::Error>() {
                    is_storage_full(io).then_some(STORAGE_FULL_MESSAGE)
                } else {
                    None
                }
            }),
            _ => None,
        }
    }

    /// The HTTP status of this error.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized(_) | Self::UnauthorizedPlain(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::ServiceUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::BadGateway(_) => StatusCode::BAD_GATEWAY,
            Self::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Database(_) | Self::Internal(_) if self.unavailable().is_some() => StatusCode::SERVICE_UNAVAILABLE,
            Self::Database(_) | Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// Maps a violation of the named constraint to `other`; any other error is kept.
    pub fn on_constraint(self, name: &str, other: impl FnOnce() -> AppError) -> AppError {
        match &self {
            Self::Database(sqlx::Error::Database(db)) if db.constraint() == Some(name) => other(),
            _ => self,
        }
    }
}

/// Extension for `sqlx` results: turn a named constraint violation into a client error.
pub trait ResultExt<T> {
    /// Maps a violation of constraint `name` to the error made by `other`.
    fn on_constraint(self, name: &str, other: impl FnOnce() -> AppError) -> Result<T>;
}

impl<T, E: Into<AppError>> ResultExt<T> for std::result::Result<T, E> {
    fn on_constraint(self, name: &str, other: impl FnOnce() -> AppError) -> Result<T> {
        self.map_err(|e| e.into().on_constraint(name, other))
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = self.status();
        if let Some(message) = self.unavailable() {
            // Logged once here (a dependency is down); the client only learns to retry.
            let cause = match &self {
                Self::Internal(err) => format!("{err:#}"),
                other => other.to_string(),
            };
            tracing::error!(error = %cause, "dependency unavailable");
            return unavailable(message);
        }
        match self {
            Self::Validation(errors) => {
                (status, Json(ValidationErrorBody { detail: VALIDATION_ERROR, errors })).into_response()
            }
            Self::Database(ref err) => {
                tracing::error!(error = %err, error.debug = ?err, "database error");
                internal()
            }
            Self::Internal(ref err) => {
                tracing::error!(error = %format!("{err:#}"), "internal error");
                internal()
            }
            Self::Unauthorized(ref message) => {
                let mut response = (status, Json(ErrorDetail::new(message.as_str()))).into_response();
                response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
                response
            }
            Self::ServiceUnavailable(ref message) => unavailable(message),
            ref other => (status, Json(ErrorDetail::new(other.to_string()))).into_response(),
        }
    }
}

/// True when `err` says the database cannot serve now: unreachable, its pool closed or
/// exhausted for the acquire timeout, or the server shutting down / starting up.
pub fn db_unavailable(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => true,
        // Class 08 (connection exception), 57P01-57P03 (shutdown, crash, cannot connect now),
        // 53300 (too many connections).
        sqlx::Error::Database(db) => db
            .code()
            .is_some_and(|c| c.starts_with("08") || matches!(c.as_ref(), "57P01" | "57P02" | "57P03" | "53300")),
        _ => false,
    }
}

/// True when an I/O error is a full disk or an exhausted quota (`ENOSPC`, `EDQUOT`).
pub fn is_storage_full(err: &std::io::Error) -> bool {
    matches!(err.kind(), std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded)
}

fn unavailable(message: &str) -> Response {
    let mut response = (StatusCode::SERVICE_UNAVAILABLE, Json(ErrorDetail::new(message))).into_response();
    response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECONDS));
    response
}

fn internal() -> Response {
    (StatusCode::INTERNAL_SERVER_ERROR, Json(ErrorDetail::new("Internal server error"))).into_response()
}

/// Answers a bare status with the original's default detail text (404 `Not Found`, ...).
pub fn status_detail(status: StatusCode) -> Response {
    let detail = status.canonical_reason().unwrap_or("Error");
    (status, Json(ErrorDetail::new(detail))).into_response()
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    #[test]
    fn a_write_to_a_full_disk_is_503_with_retry_after_and_other_write_errors_500() {
        // /dev/full fails every write with ENOSPC, as a full disk does.
        let mut full = std::fs::OpenOptions::new().write(true).open("/dev/full").unwrap();
        let err = full.write_all(b"spooled bytes").and_then(|()| full.flush()).unwrap_err();
        let response = AppError::from_io_write(err, "the spooled upload").into_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()[header::RETRY_AFTER], RETRY_AFTER_SECONDS.to_string());

        let quota = std::io::Error::from(std::io::ErrorKind::QuotaExceeded);
        assert_eq!(AppError::from_io_write(quota, "x").status(), StatusCode::SERVICE_UNAVAILABLE);
        let denied = std::io::Error::from(std::io::ErrorKind::PermissionDenied);
        assert_eq!(AppError::from_io_write(denied, "x").status(), StatusCode::INTERNAL_SERVER_ERROR);
        // Found below an anyhow context too (storage writes carry one).
        let wrapped = anyhow::Error::new(std::io::Error::from(std::io::ErrorKind::StorageFull)).context("storing a/b");
        assert_eq!(AppError::Internal(wrapped).status(), StatusCode::SERVICE_UNAVAILABLE);
    }

    #[test]
    fn an_unreachable_database_is_503_with_retry_after_and_other_database_errors_500() {
        for err in [
            sqlx::Error::PoolTimedOut,
            sqlx::Error::PoolClosed,
            sqlx::Error::Io(std::io::Error::from(std::io::ErrorKind::ConnectionRefused)),
        ] {
            let response = AppError::Database(err).into_response();
            assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
            assert!(response.headers().contains_key(header::RETRY_AFTER));
        }
        let wrapped = anyhow::Error::new(sqlx::Error::PoolTimedOut).context("loading the user");
        assert_eq!(AppError::Internal(wrapped).status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(AppError::Database(sqlx::Error::RowNotFound).status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(AppError::Internal(anyhow::anyhow!("bug")).status(), StatusCode::INTERNAL_SERVER_ERROR);
        let message = AppError::ServiceUnavailable("storage is unavailable".into()).into_response();
        assert!(message.headers().contains_key(header::RETRY_AFTER), "every 503 says when to retry");
    }
}
