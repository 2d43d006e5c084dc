//! Pieces several resources share: the `{"message": ...}` answer, and the serde helper that tells
//! an absent key from an explicit `null` in partial updates.

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

/// `deserialize_with` for `Option<Option<T>>` fields: an absent key stays `None` (with
/// `#[serde(default)]`), an explicit `null` is `Some(None)`, a value is `Some(Some(v))`.
pub fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}
