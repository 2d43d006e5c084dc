//! Contribution summaries of a user: their records as contribution items (the production
//! service's `ContributionResponse`) and per-media-type totals. Every function takes any
//! executor; callers own transactions.

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;
use tracing::instrument;
use uuid::Uuid;

use crate::domain::MediaType;

/// One of a user's records, as a contribution summary lists it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ContributionRow {
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
    /// Whole seconds of audio or video; `None` when unknown (or implausible).
    pub duration: Option<i64>,
    /// When the record was created.
    pub created_at: DateTime<Utc>,
    /// Latitude of the record's location.
    pub latitude: Option<f64>,
    /// Longitude of the record's location.
    pub longitude: Option<f64>,
    /// Release rights as sent by the client.
    pub release_rights: Option<String>,
    /// Language as sent by the client.
    pub language: Option<String>,
    /// SHA-256 of the stored bytes, hex.
    pub content_sha256: Option<String>,
    /// Media type.
    pub media_type: MediaType,
}

/// Per-media-type totals of a user's records.
#[derive(Debug, Clone)]
pub struct ContributionTotals {
    /// Records per media type, for every media type.
    pub counts: [(MediaType, i64); MediaType::ALL.len()],
    /// Sum of `duration_seconds` over audio records.
    pub audio_duration: i64,
    /// Sum of `duration_seconds` over video records.
    pub video_duration: i64,
}

impl ContributionTotals {
    /// Records of one media type.
    pub fn count(&self, media_type: MediaType) -> i64 {
        self.counts.iter().find(|(kind, _)| *kind == media_type).map_or(0, |(_, n)| *n)
    }

    /// Records of every media type.
    pub fn total(&self) -> i64 {
        self.counts.iter().map(|(_, n)| n).sum()
    }
}

/// Counts and durations of a user's records per media type, computed by the database.
#[instrument(skip_all)]
pub async fn totals(db: impl PgExecutor<'_>, user_id: Uuid) -> sqlx::Result<ContributionTotals> {
    let rows: Vec<(MediaType, i64, i64)> = sqlx::query!(
        r#"SELECT media_type AS "media_type: MediaType", count(*) AS "records!",
                  COALESCE(sum(duration_seconds), 0)::bigint AS "seconds!"
           FROM record WHERE user_id = $1 GROUP BY media_type"#,
        user_id
    )
    .fetch_all(db)
    .await?
    .into_iter()
    .map(|r| (r.media_type, r.records, r.seconds))
    .collect();
    let count = |m: MediaType| rows.iter().find(|r| r.0 == m).map_or(0, |r| r.1);
    let duration = |m: MediaType| rows.iter().find(|r| r.0 == m).map_or(0, |r| r.2);
    Ok(ContributionTotals {
        counts: MediaType::ALL.map(|m| (m, count(m))),
        audio_duration: duration(MediaType::Audio),
        video_duration: duration(MediaType::Video),
    })
}

/// A user's records as contribution rows, oldest first, optionally of one media type.
#[instrument(skip_all)]
pub async fn items(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    media_type: Option<MediaType>,
) -> sqlx::Result<Vec<ContributionRow>> {
    sqlx::query_as!(
        ContributionRow,
        r#"SELECT r.uid AS id, COALESCE(r.file_size, 0)::bigint AS "size!", r.category_id, r.reviewed, r.title,
                  r.description, r.duration_seconds::bigint AS duration, r.created_at,
                  ST_Y(r.location) AS latitude, ST_X(r.location) AS longitude, r.release_rights, r.language,
                  r.content_sha256, r.media_type AS "media_type: MediaType"
           FROM record r WHERE r.user_id = $1 AND ($2::mediatype IS NULL OR r.media_type = $2)
           ORDER BY r.created_at, r.uid"#,
        user_id,
        media_type as Option<MediaType>
    )
    .fetch_all(db)
    .await
}
