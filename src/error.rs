//! The one error type at the HTTP boundary.
//!
//! Client errors carry a safe message and answer `{"detail": "<message>"}`; validation errors
//! answer 422 `{"detail":"Validation error","errors":[...]}` in the original's (pydantic) shape.
//! Internal errors are logged once, with their cause chain, and answer an opaque 500.

use axum::{
    Json,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Serialize;
use serde_json::Value;

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
    /// 503 with a message.
    #[error("{0}")]
    ServiceUnavailable(String),
    /// 502 with a message (an upstream such as the SMS gateway failed).
    #[error("{0}")]
    BadGateway(String),
    /// 422 with pydantic-shaped errors.
    #[error("validation error")]
    Validation(Vec<FieldError>),
    /// A database failure: logged, answered as an opaque 500.
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    /// Anything else unexpected: logged, answered as an opaque 500.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

#[derive(Serialize)]
struct DetailBody<'a> {
    detail: &'a str,
}

#[derive(Serialize)]
struct ValidationBody<'a> {
    detail: &'static str,
    errors: &'a [FieldError],
}

impl AppError {
    /// A single-field 422.
    pub fn field(error: FieldError) -> Self {
        Self::Validation(vec![error])
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
        match self {
            Self::Validation(errors) => {
                (status, Json(ValidationBody { detail: "Validation error", errors: &errors })).into_response()
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
                let mut response = (status, Json(DetailBody { detail: message })).into_response();
                response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
                response
            }
            ref other => {
                let message = other.to_string();
                (status, Json(DetailBody { detail: &message })).into_response()
            }
        }
    }
}

fn internal() -> Response {
    (StatusCode::INTERNAL_SERVER_ERROR, Json(DetailBody { detail: "Internal server error" })).into_response()
}

/// Answers a bare status with the original's default detail text (404 `Not Found`, ...).
pub fn status_detail(status: StatusCode) -> Response {
    let detail = status.canonical_reason().unwrap_or("Error");
    (status, Json(DetailBody { detail })).into_response()
}
