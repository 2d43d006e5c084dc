//! The record row the service reads, the columns that make it, and how it is read from them.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::{Column, FromRow, Row, postgres::PgRow};
use uuid::Uuid;

use crate::domain::{Location, MediaType, RecordStatus, ReviewStatus};

/// A `record` row as the service reads it (coordinates taken out of the geometry).
#[derive(Debug, Clone)]
pub struct RecordRow {
    /// Id.
    pub uid: Uuid,
    /// Owner.
    pub user_id: Uuid,
    /// Category.
    pub category_id: Uuid,
    /// Status.
    pub status: RecordStatus,
    /// Whether a reviewer decided on it.
    pub reviewed: bool,
    /// The reviewer.
    pub reviewed_by: Option<Uuid>,
    /// When it was reviewed.
    pub reviewed_at: Option<DateTime<Utc>>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// Title.
    pub title: String,
    /// Description.
    pub description: Option<String>,
    /// Media type.
    pub media_type: MediaType,
    /// URL stored by the original (records taken over from it may have no object key).
    pub file_url: Option<String>,
    /// The client's file name.
    pub file_name: Option<String>,
    /// Bytes.
    pub file_size: Option<i64>,
    /// Latitude of the location.
    pub latitude: Option<f64>,
    /// Longitude of the location.
    pub longitude: Option<f64>,
    /// Whole seconds of audio or video.
    pub duration_seconds: Option<i32>,
    /// The header claimed a duration the size cannot hold.
    pub duration_implausible: bool,
    /// Storage key of the record's object.
    pub object_key: Option<String>,
    /// Language.
    pub language: Option<String>,
    /// Release rights.
    pub release_rights: Option<String>,
    /// Client metadata.
    pub metadata: Option<Value>,
    /// SHA-256 of the stored bytes.
    pub content_sha256: Option<String>,
    /// Sniffed MIME type.
    pub mime_type: Option<String>,
    /// A reviewer's decision.
    pub review_status: Option<ReviewStatus>,
    /// The reviewer's note.
    pub review_note: Option<String>,
    /// The first earlier record with the same bytes.
    pub duplicate_of: Option<Uuid>,
}

impl RecordRow {
    /// The location, when both coordinates are there.
    pub fn location(&self) -> Option<Location> {
        Some(Location { latitude: self.latitude?, longitude: self.longitude? })
    }
}

/// Columns of [`RecordRow`] for the statements built at run time, `FROM record r` (or a
/// subquery named `r`), in the order of the struct's fields: the statements put them first, and
/// [`RecordRow`] is read from them by position.
pub(super) const RECORD_COLUMNS: &str = "r.uid, r.user_id, r.category_id, r.status, r.reviewed, r.reviewed_by, r.reviewed_at, \
    r.created_at, r.updated_at, r.title, r.description, r.media_type, r.file_url, r.file_name, \
    r.file_size, ST_Y(r.location) AS latitude, ST_X(r.location) AS longitude, r.duration_seconds, \
    r.duration_implausible, r.object_key, r.language, r.release_rights, r.metadata, r.content_sha256, \
    r.mime_type, r.review_status, r.review_note, r.duplicate_of";

/// Read by position: the first columns of the row are [`RECORD_COLUMNS`] (a query that decodes a
/// [`RecordRow`] with more columns, such as a distance, puts them after). Looking each of the 28
/// columns up by name cost more than decoding it (a hash and a string comparison per column,
/// about a tenth of the server's time on a page of 100 records); see [`column`] for the checks.
impl<'r> FromRow<'r, PgRow> for RecordRow {
    fn from_row(row: &'r PgRow) -> sqlx::Result<Self> {
        Ok(Self {
            uid: column(row, 0, "uid")?,
            user_id: column(row, 1, "user_id")?,
            category_id: column(row, 2, "category_id")?,
            status: column(row, 3, "status")?,
            reviewed: column(row, 4, "reviewed")?,
            reviewed_by: column(row, 5, "reviewed_by")?,
            reviewed_at: column(row, 6, "reviewed_at")?,
            created_at: column(row, 7, "created_at")?,
            updated_at: column(row, 8, "updated_at")?,
            title: column(row, 9, "title")?,
            description: column(row, 10, "description")?,
            media_type: column(row, 11, "media_type")?,
            file_url: column(row, 12, "file_url")?,
            file_name: column(row, 13, "file_name")?,
            file_size: column(row, 14, "file_size")?,
            latitude: column(row, 15, "latitude")?,
            longitude: column(row, 16, "longitude")?,
            duration_seconds: column(row, 17, "duration_seconds")?,
            duration_implausible: column(row, 18, "duration_implausible")?,
            object_key: column(row, 19, "object_key")?,
            language: column(row, 20, "language")?,
            release_rights: column(row, 21, "release_rights")?,
            metadata: column(row, 22, "metadata")?,
            content_sha256: column(row, 23, "content_sha256")?,
            mime_type: column(row, 24, "mime_type")?,
            review_status: column(row, 25, "review_status")?,
            review_note: column(row, 26, "review_note")?,
            duplicate_of: column(row, 27, "duplicate_of")?,
        })
    }
}

/// Column `index` of `row`, which must be named `name` and be of type `T`. Debug builds (the tests)
/// check both; release builds decode without comparing the column's type with `T` first (for the
/// enum columns that compares type names), as [`RECORD_COLUMNS`] fixes the types, and decoding
/// still refuses bytes that are not a `T`.
fn column<'r, T>(row: &'r PgRow, index: usize, name: &str) -> sqlx::Result<T>
where
    T: sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>,
{
    if cfg!(debug_assertions) {
        if let Ok(column) = row.try_column(index) {
            assert_eq!(column.name(), name, "RECORD_COLUMNS and RecordRow are out of step");
        }
        row.try_get(index)
    } else {
        row.try_get_unchecked(index)
    }
}
