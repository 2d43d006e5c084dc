//! Role names and media types, the two enums of the original's schema.

use serde::{Deserialize, Serialize};

/// A role a user can hold (PostgreSQL enum `roleenum`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum RoleName {
    /// Runs the place.
    Admin,
    /// A contributor.
    User,
    /// Checks submissions.
    Reviewer,
}

impl RoleName {
    /// Every role, in the original's order.
    pub const ALL: [RoleName; 3] = [RoleName::Admin, RoleName::User, RoleName::Reviewer];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            RoleName::Admin => "admin",
            RoleName::User => "user",
            RoleName::Reviewer => "reviewer",
        }
    }

    /// Parses a stored name (case-insensitive, as the original matched roles).
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str().eq_ignore_ascii_case(s))
    }
}

impl std::fmt::Display for RoleName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The kind of a record (PostgreSQL enum `mediatype`).
// Read from and written to the column as the enum itself: a value the database holds that is not
// one of these fails the read (logged, 500) instead of being relabelled. (A `//` comment: the doc
// line above is the schema's description in the OpenAPI document.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema, sqlx::Type)]
#[serde(rename_all = "lowercase")]
#[sqlx(type_name = "mediatype", rename_all = "lowercase")]
pub enum MediaType {
    /// Written text.
    Text,
    /// A sound recording.
    Audio,
    /// A video.
    Video,
    /// A picture.
    Image,
    /// A document: PDF, plain text, or an office file (OOXML, OpenDocument, legacy OLE).
    Document,
}

impl MediaType {
    /// Every media type, in the original's order.
    pub const ALL: [MediaType; 5] =
        [MediaType::Text, MediaType::Audio, MediaType::Video, MediaType::Image, MediaType::Document];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            MediaType::Text => "text",
            MediaType::Audio => "audio",
            MediaType::Video => "video",
            MediaType::Image => "image",
            MediaType::Document => "document",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == s)
    }
}

impl std::fmt::Display for MediaType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
