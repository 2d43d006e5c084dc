//! Pieces several resources share: the `{"message": ...}` answer, a JSON answer from bytes already
//! written, and the serde helper that tells an absent key from an explicit `null` in partial
//! updates.

use serde::{Deserialize, Deserializer, Serialize};

/// `{"message": ...}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MessageResponse {
    /// What happened.
    pub message: String,
}

impl MessageResponse {
    /// A message body.
    pub fn new(message: impl Into<String>) -> Self {
        Self { message: message.into() }
    }
}

/// A JSON answer from bytes already written (a list held in memory, or written into a buffer
/// sized for it).
pub fn json_response(body: impl Into<axum::body::Body>) -> axum::response::Response {
    use axum::response::IntoResponse;
    let content_type = (axum::http::header::CONTENT_TYPE, axum::http::HeaderValue::from_static("application/json"));
    ([content_type], body.into()).into_response()
}

/// `deserialize_with` for `Option<Option<T>>` fields: an absent key stays `None` (with
/// `#[serde(default)]`), an explicit `null` is `Some(None)`, a value is `Some(Some(v))`.
pub fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}
