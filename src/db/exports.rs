//! The records a dataset export selects: how many (and how many bytes), then the rows themselves
//! as a stream, both through one [`QueryBuilder`] filter so the count and the stream always agree.
//!
//! Callers run both inside one `REPEATABLE READ` transaction ([`begin_snapshot`]) so the total
//! announced in the progress is the number of rows streamed. The statements run unnamed
//! (`persistent(false)`): the best plan depends on the filter's values, as for the record lists.

use chrono::{DateTime, Utc};
use futures::stream::BoxStream;
use sqlx::{PgConnection, Postgres, QueryBuilder};
use uuid::Uuid;

use crate::domain::MediaType;

/// The review state a manifest row states: `unreviewed`, `approved`, `rejected`, or `reviewed`
/// (a record the original marked reviewed without a decision). The filter uses the same
/// expression, so `--review-status X` selects exactly the rows whose manifest says `X`.
const REVIEW_STATE: &str = "CASE WHEN NOT r.reviewed THEN 'unreviewed' ELSE COALESCE(r.review_status, 'reviewed') END";

/// Which records to export; every condition given must hold, and a list matches any of its values.
#[derive(Debug, Clone, Default)]
pub struct Filter<'a> {
    /// Categories, by name or by id (as text).
    pub categories: &'a [String],
    /// Media types.
    pub media_types: &'a [MediaType],
    /// Languages, exactly as stored.
    pub languages: &'a [String],
    /// Review states (see [`REVIEW_STATE`]): `unreviewed`, `approved`, `rejected`, `reviewed`.
    pub review_states: &'a [String],
    /// Created at or after.
    pub created_from: Option<DateTime<Utc>>,
    /// Created before.
    pub created_before: Option<DateTime<Utc>>,
    /// Longitude/latitude box (west, south, east, north), boundary included.
    pub bbox: Option<[f64; 4]>,
}

impl Filter<'_> {
    /// Adds ` AND ...` for each condition to a statement over `record r JOIN category c`.
    fn push(&self, qb: &mut QueryBuilder<'_, Postgres>) {
        if !self.categories.is_empty() {
            qb.push(" AND (c.name = ANY(")
                .push_bind(self.categories.to_vec())
                .push(") OR c.id::text = ANY(")
                .push_bind(self.categories.to_vec())
                .push("))");
        }
        if !self.media_types.is_empty() {
            qb.push(" AND r.media_type::text = ANY(")
                .push_bind(self.media_types.iter().map(|m| m.as_str().to_owned()).collect::<Vec<_>>())
                .push(")");
        }
        if !self.languages.is_empty() {
            qb.push(" AND r.language = ANY(").push_bind(self.languages.to_vec()).push(")");
        }
        if !self.review_states.is_empty() {
            qb.push(format!(" AND {REVIEW_STATE} = ANY(")).push_bind(self.review_states.to_vec()).push(")");
        }
        if let Some(at) = self.created_from {
            qb.push(" AND r.created_at >= ").push_bind(at);
        }
        if let Some(at) = self.created_before {
            qb.push(" AND r.created_at < ").push_bind(at);
        }
        if let Some([west, south, east, north]) = self.bbox {
            // Planar in degrees, as the bbox search; ST_Intersects keeps boundary points.
            qb.push(" AND r.location IS NOT NULL AND ST_Intersects(r.location, ST_MakeEnvelope(")
                .push_bind(west)
                .push("::float8, ")
                .push_bind(south)
                .push("::float8, ")
                .push_bind(east)
                .push("::float8, ")
                .push_bind(north)
                .push("::float8, 4326))");
        }
    }
}

/// One selected record, with what its manifest row says.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ExportRow {
    /// Id.
    pub uid: Uuid,
    /// Media type.
    pub media_type: MediaType,
    /// Storage key of its object (none for a record without a file).
    pub object_key: Option<String>,
    /// Recorded SHA-256 of the object (lower-case hex).
    pub content_sha256: Option<String>,
    /// Recorded size of the object.
    pub file_size: Option<i64>,
    /// Whole seconds of audio or video.
    pub duration_seconds: Option<i32>,
    /// Sniffed MIME type.
    pub mime_type: Option<String>,
    /// Language.
    pub language: Option<String>,
    /// Category name.
    pub category: String,
    /// Latitude of the location.
    pub latitude: Option<f64>,
    /// Longitude of the location.
    pub longitude: Option<f64>,
    /// Release rights.
    pub release_rights: Option<String>,
    /// Review state (see [`REVIEW_STATE`]).
    pub review_status: String,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

/// How many records a filter selects and their recorded bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct Count {
    /// Records.
    pub records: i64,
    /// Sum of `file_size` of those with an object.
    pub bytes: i64,
}

/// Starts the read-only snapshot the count and the stream share.
#[tracing::instrument(skip_all)]
pub async fn begin_snapshot(conn: &mut PgConnection) -> sqlx::Result<sqlx::Transaction<'_, Postgres>> {
    use sqlx::Connection;
    conn.begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY").await
}

/// Counts the records `filter` selects.
#[tracing::instrument(skip_all)]
pub async fn count(conn: &mut PgConnection, filter: &Filter<'_>) -> sqlx::Result<Count> {
    let mut qb = QueryBuilder::<Postgres>::new(
        "SELECT count(*) AS records, COALESCE(sum(r.file_size) FILTER (WHERE r.object_key IS NOT NULL), 0)::int8 \
         AS bytes FROM record r JOIN category c ON c.id = r.category_id WHERE TRUE",
    );
    filter.push(&mut qb);
    qb.build_query_as().persistent(false).fetch_one(conn).await
}

/// The statement [`stream`] runs for `filter`: every selected record, oldest first. The caller
/// keeps it alive while the stream runs (it holds the statement's values).
pub fn statement(filter: &Filter<'_>) -> QueryBuilder<'static, Postgres> {
    let mut qb = QueryBuilder::<Postgres>::new(format!(
        "SELECT r.uid, r.media_type, r.object_key, r.content_sha256::text AS content_sha256, r.file_size, \
         r.duration_seconds, r.mime_type, r.language, c.name AS category, ST_Y(r.location) AS latitude, \
         ST_X(r.location) AS longitude, r.release_rights, {REVIEW_STATE} AS review_status, r.created_at \
         FROM record r JOIN category c ON c.id = r.category_id WHERE TRUE"
    ));
    filter.push(&mut qb);
    qb.push(" ORDER BY r.created_at, r.uid");
    qb
}

/// Every record `filter` selects, oldest first, read as the caller consumes them (never all in
/// memory at once); `builder` comes from [`statement`].
#[tracing::instrument(skip_all)]
pub fn stream<'c>(
    conn: &'c mut PgConnection,
    builder: &'c mut QueryBuilder<'static, Postgres>,
) -> BoxStream<'c, sqlx::Result<ExportRow>> {
    builder.build_query_as::<ExportRow>().persistent(false).fetch(conn)
}
