//! Contribution summaries (the production service's shapes).

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{
    db::contributions::ContributionRow,
    domain::{MediaType, time},
    http::records::Location,
};

/// One record in a contribution summary (the production service's `ContributionResponse`).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ContributionItem {
    /// Record id.
    pub id: Uuid,
    /// File size in bytes, 0 when unknown.
    pub size: i64,
    /// Category id.
    pub category_id: Uuid,
    /// Whether the record was reviewed.
    pub reviewed: bool,
    /// Title.
    pub title: String,
    /// Description.
    pub description: Option<String>,
    /// Whole seconds of audio or video; null when unknown or not a timed medium.
    pub duration: Option<i64>,
    /// When the record was created.
    #[serde(serialize_with = "time::serialize")]
    pub timestamp: DateTime<Utc>,
    /// Where it was recorded.
    pub location: Option<Location>,
    /// Release rights as sent with the record.
    pub release_rights: Option<String>,
    /// Language as sent with the record; an empty string (never null) when none was sent.
    pub language: String,
    /// SHA-256 of the stored bytes (hex).
    pub file_hash: Option<String>,
    /// Signal-to-noise measure of audio; null (not measured by this service).
    pub snr_frequency: Option<f64>,
    /// Media type (used for grouping; not part of the production item).
    #[serde(skip)]
    pub media_type: MediaType,
}

impl From<ContributionRow> for ContributionItem {
    fn from(row: ContributionRow) -> Self {
        let location = match (row.latitude, row.longitude) {
            (Some(latitude), Some(longitude)) => Some(Location { latitude, longitude }),
            _ => None,
        };
        Self {
            id: row.id,
            size: row.size,
            category_id: row.category_id,
            reviewed: row.reviewed,
            title: row.title,
            description: row.description,
            duration: row.duration,
            timestamp: row.created_at,
            location,
            release_rights: row.release_rights,
            language: row.language.unwrap_or_default(),
            file_hash: row.content_sha256,
            snr_frequency: None,
            media_type: row.media_type,
        }
    }
}

/// Records per media type.
#[derive(Debug, Serialize, ToSchema)]
pub struct ContributionsByMediaType {
    /// Text records.
    pub text: i64,
    /// Audio records.
    pub audio: i64,
    /// Image records.
    pub image: i64,
    /// Video records.
    pub video: i64,
    /// Document records.
    pub document: i64,
}

/// A user's contributions (the production service's `ContributionRead`); empty lists are
/// `null`, as there.
#[derive(Debug, Serialize, ToSchema)]
pub struct ContributionRead {
    /// The user.
    pub user_id: Uuid,
    /// All the user's records.
    pub total_contributions: i64,
    /// Records per media type.
    pub contributions_by_media_type: ContributionsByMediaType,
    /// Audio records, or null when none.
    pub audio_contributions: Option<Vec<ContributionItem>>,
    /// Video records, or null when none.
    pub video_contributions: Option<Vec<ContributionItem>>,
    /// Text records, or null when none.
    pub text_contributions: Option<Vec<ContributionItem>>,
    /// Image records, or null when none.
    pub image_contributions: Option<Vec<ContributionItem>>,
    /// Document records, or null when none.
    pub document_contributions: Option<Vec<ContributionItem>>,
    /// Seconds of audio (unknown durations count as 0).
    pub audio_duration: i64,
    /// Seconds of video (unknown durations count as 0).
    pub video_duration: i64,
}

/// A user's contributions of one media type (the original's `ContributionFilterRead`).
#[derive(Debug, Serialize, ToSchema)]
pub struct ContributionFilterRead {
    /// The user.
    pub user_id: Uuid,
    /// Records of this media type.
    pub total_contributions: i64,
    /// The records, or null when none.
    pub contributions: Option<Vec<ContributionItem>>,
}
