//! Records: reading one or a page of them (with the caller's visibility and the client's filters),
//! creating, changing and deleting; the spatial searches are in [`spatial`].
//!
//! Fixed statements are checked against the schema at build time (`query!`); the statements whose
//! shape depends on the request (filters, partial updates) are built with one [`QueryBuilder`]
//! each, from [`Filter`] and [`Changes`], and bind every value.
//!
//! The list and the plain box search run as unnamed statements (`persistent(false)`), which
//! PostgreSQL plans with the values of each call. A prepared statement would switch to a generic
//! plan after five runs, and the best plan of these depends on the values: a box or circle
//! holding most records wants the newest-first index walked and filtered, one holding few wants
//! the spatial index. The generic plan picked one for all (a box over every record ran at 16
//! requests/s instead of hundreds). Only statements whose best plan is the same whatever the
//! values are prepared: the nearest-first walk of `nearby` and the merged cell walks of the grid.

pub mod nearby;
mod row;
pub mod spatial;

use row::RECORD_COLUMNS;
pub use row::RecordRow;

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::{PgConnection, PgExecutor, Postgres, QueryBuilder};
use uuid::Uuid;

use crate::domain::{Location, MediaType, RecordStatus, ReviewStatus};

/// Which records a caller may see.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Visibility {
    /// Every record (reviewers and admins).
    All,
    /// Only the records this user owns (contributors).
    OwnedBy(Uuid),
}

impl Visibility {
    /// Whether a record owned by `owner` is visible.
    pub fn sees(self, owner: Uuid) -> bool {
        match self {
            Visibility::All => true,
            Visibility::OwnedBy(id) => id == owner,
        }
    }

    /// The visible owner, or `None` for all.
    fn owner(self) -> Option<Uuid> {
        match self {
            Visibility::All => None,
            Visibility::OwnedBy(id) => Some(id),
        }
    }
}

/// What the lists and searches may be narrowed by, always within a [`Visibility`].
#[derive(Debug, Clone)]
pub struct Filter {
    /// Who is asking.
    pub visibility: Visibility,
    /// Only this category.
    pub category_id: Option<Uuid>,
    /// Only this owner.
    pub user_id: Option<Uuid>,
    /// Only this media type.
    pub media_type: Option<MediaType>,
    /// Only this status.
    pub status: Option<RecordStatus>,
    /// Only reviewed or unreviewed records.
    pub reviewed: Option<bool>,
    /// Created at or after.
    pub created_after: Option<DateTime<Utc>>,
    /// Created before.
    pub created_before: Option<DateTime<Utc>>,
    /// Only records with these bytes (lower-case hex SHA-256).
    pub content_sha256: Option<String>,
}

impl Filter {
    /// Every record `visibility` allows.
    pub fn visible(visibility: Visibility) -> Self {
        Filter {
            visibility,
            category_id: None,
            user_id: None,
            media_type: None,
            status: None,
            reviewed: None,
            created_after: None,
            created_before: None,
            content_sha256: None,
        }
    }

    /// Adds ` AND ...` for each condition to a statement whose record table is named `r`.
    fn push(&self, qb: &mut QueryBuilder<'_, Postgres>) {
        if let Some(owner) = self.visibility.owner() {
            qb.push(" AND r.user_id = ").push_bind(owner);
        }
        if let Some(id) = self.category_id {
            qb.push(" AND r.category_id = ").push_bind(id);
        }
        if let Some(id) = self.user_id {
            qb.push(" AND r.user_id = ").push_bind(id);
        }
        if let Some(m) = self.media_type {
            qb.push(" AND r.media_type = ").push_bind(m);
        }
        if let Some(s) = &self.status {
            qb.push(" AND r.status = ").push_bind(s.clone());
        }
        if let Some(reviewed) = self.reviewed {
            qb.push(" AND r.reviewed = ").push_bind(reviewed);
        }
        if let Some(at) = self.created_after {
            qb.push(" AND r.created_at >= ").push_bind(at);
        }
        if let Some(at) = self.created_before {
            qb.push(" AND r.created_at < ").push_bind(at);
        }
        if let Some(hash) = &self.content_sha256 {
            qb.push(" AND r.content_sha256 = ").push_bind(hash.clone());
        }
    }
}

/// Which page of a newest-first list.
#[derive(Debug, Clone, Copy)]
pub enum Page {
    /// `limit` records after skipping `skip`.
    Offset {
        /// Records to skip.
        skip: i64,
        /// Page size.
        limit: i64,
    },
    /// `limit` records older than the record with this sort key (keyset).
    After {
        /// Creation time of the last record of the previous page.
        created_at: DateTime<Utc>,
        /// Its id.
        uid: Uuid,
        /// Page size.
        limit: i64,
    },
}

/// One record by id, whoever owns it.
#[tracing::instrument(skip_all)]
pub async fn get(db: impl PgExecutor<'_>, uid: Uuid) -> sqlx::Result<Option<RecordRow>> {
    sqlx::query_as!(
        RecordRow,
        r#"SELECT uid, user_id, category_id, status AS "status: RecordStatus", reviewed, reviewed_by, reviewed_at,
               created_at, updated_at, title, description, media_type AS "media_type: MediaType", file_url,
               file_name, file_size, ST_Y(location) AS latitude, ST_X(location) AS longitude, duration_seconds,
               duration_implausible, object_key, language, release_rights, metadata,
               content_sha256::text AS content_sha256, mime_type,
               review_status AS "review_status: ReviewStatus", review_note, duplicate_of
           FROM record WHERE uid = $1"#,
        uid
    )
    .fetch_optional(db)
    .await
}

/// One record by id, when `visibility` lets the caller see it.
pub async fn get_visible(
    db: impl PgExecutor<'_>,
    uid: Uuid,
    visibility: Visibility,
) -> sqlx::Result<Option<RecordRow>> {
    Ok(get(db, uid).await?.filter(|row| visibility.sees(row.user_id)))
}

/// Records by id, oldest first (ids that do not exist are left out).
#[tracing::instrument(skip_all)]
pub async fn get_many(db: impl PgExecutor<'_>, uids: &[Uuid]) -> sqlx::Result<Vec<RecordRow>> {
    sqlx::query_as!(
        RecordRow,
        r#"SELECT uid, user_id, category_id, status AS "status: RecordStatus", reviewed, reviewed_by, reviewed_at,
               created_at, updated_at, title, description, media_type AS "media_type: MediaType", file_url,
               file_name, file_size, ST_Y(location) AS latitude, ST_X(location) AS longitude, duration_seconds,
               duration_implausible, object_key, language, release_rights, metadata,
               content_sha256::text AS content_sha256, mime_type,
               review_status AS "review_status: ReviewStatus", review_note, duplicate_of
           FROM record WHERE uid = ANY($1) ORDER BY created_at, uid"#,
        uids
    )
    .fetch_all(db)
    .await
}

/// A page of the records `filter` selects, newest first.
#[tracing::instrument(skip_all)]
pub async fn list(db: impl PgExecutor<'_>, filter: &Filter, page: Page) -> sqlx::Result<Vec<RecordRow>> {
    // The page is chosen on plain rows; the response columns (coordinates, ...) are computed
    // for the page only, not for every row an OFFSET skips.
    let mut qb =
        QueryBuilder::<Postgres>::new(format!("SELECT {RECORD_COLUMNS} FROM (SELECT r.* FROM record r WHERE TRUE"));
    filter.push(&mut qb);
    match page {
        Page::After { created_at, uid, limit } => {
            qb.push(" AND (r.created_at, r.uid) < (").push_bind(created_at).push(", ").push_bind(uid).push(")");
            qb.push(" ORDER BY r.created_at DESC, r.uid DESC LIMIT ").push_bind(limit);
        }
        Page::Offset { skip, limit } => {
            qb.push(" ORDER BY r.created_at DESC, r.uid DESC LIMIT ").push_bind(limit);
            qb.push(" OFFSET ").push_bind(skip);
        }
    }
    qb.push(") r ORDER BY r.created_at DESC, r.uid DESC");
    qb.build_query_as().persistent(false).fetch_all(db).await
}

/// The fields of a new record, shared by JSON create and uploads.
#[derive(Debug, Clone)]
pub struct NewRecord {
    /// Id (chosen before the object is stored, as it names the object).
    pub uid: Uuid,
    /// Owner.
    pub user_id: Uuid,
    /// Category.
    pub category_id: Uuid,
    /// Status.
    pub status: RecordStatus,
    /// Title.
    pub title: String,
    /// Description.
    pub description: Option<String>,
    /// Media type.
    pub media_type: MediaType,
    /// Location.
    pub location: Option<Location>,
    /// Language.
    pub language: Option<String>,
    /// Release rights.
    pub release_rights: Option<String>,
    /// Client metadata.
    pub metadata: Option<Value>,
    /// Stored file facts, when there is a file.
    pub file: Option<StoredFile>,
}

/// Facts about a stored object.
#[derive(Debug, Clone)]
pub struct StoredFile {
    /// Storage key.
    pub key: String,
    /// File name recorded for the client.
    pub file_name: String,
    /// Bytes.
    pub size: i64,
    /// SHA-256, hex.
    pub sha256: String,
    /// Sniffed MIME type.
    pub mime_type: Option<String>,
    /// Whole seconds of audio/video.
    pub duration_seconds: Option<i32>,
    /// The file's header claimed a duration its size cannot hold (`duration_seconds` is then
    /// unknown).
    pub duration_implausible: bool,
}

/// Inserts a record and reads it back. Fails on `record_category_id_fkey` and
/// `record_user_id_fkey` when the category or the owner does not exist.
#[tracing::instrument(skip_all)]
pub async fn insert(db: &mut PgConnection, r: &NewRecord) -> sqlx::Result<RecordRow> {
    let file = r.file.as_ref();
    sqlx::query!(
        "INSERT INTO record (uid, user_id, category_id, status, reviewed, title, description, media_type, location,
             language, release_rights, metadata, object_key, file_name, file_size, content_sha256, mime_type,
             duration_seconds, duration_implausible)
         VALUES ($1, $2, $3, $4, false, $5, $6, $7,
             CASE WHEN $8::float8 IS NULL THEN NULL ELSE ST_SetSRID(ST_MakePoint($9::float8, $8::float8), 4326) END,
             $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)",
        r.uid,
        r.user_id,
        r.category_id,
        r.status.as_str(),
        r.title,
        r.description,
        r.media_type as MediaType,
        r.location.map(|l| l.latitude),
        r.location.map(|l| l.longitude),
        r.language,
        r.release_rights,
        r.metadata,
        file.map(|f| f.key.as_str()),
        file.map(|f| f.file_name.as_str()),
        file.map(|f| f.size),
        file.map(|f| f.sha256.as_str()),
        file.and_then(|f| f.mime_type.as_deref()),
        file.and_then(|f| f.duration_seconds),
        file.is_some_and(|f| f.duration_implausible),
    )
    .execute(&mut *db)
    .await?;
    get(db, r.uid).await?.ok_or(sqlx::Error::RowNotFound)
}

/// Records the sample file generated for a record (status `generated`).
#[tracing::instrument(skip_all)]
pub async fn attach_generated_file(db: &mut PgConnection, uid: Uuid, file: &StoredFile) -> sqlx::Result<RecordRow> {
    sqlx::query!(
        "UPDATE record SET status = $2, object_key = $3, file_name = $4, file_size = $5, content_sha256 = $6,
             mime_type = $7
         WHERE uid = $1",
        uid,
        RecordStatus::Generated.as_str(),
        file.key,
        file.file_name,
        file.size,
        file.sha256,
        file.mime_type,
    )
    .execute(&mut *db)
    .await?;
    get(db, uid).await?.ok_or(sqlx::Error::RowNotFound)
}

/// Sets a record's status.
#[tracing::instrument(skip_all)]
pub async fn set_status(db: &mut PgConnection, uid: Uuid, status: &RecordStatus) -> sqlx::Result<Option<RecordRow>> {
    let updated = sqlx::query!("UPDATE record SET status = $2 WHERE uid = $1", uid, status.as_str())
        .execute(&mut *db)
        .await?
        .rows_affected();
    if updated == 0 { Ok(None) } else { get(db, uid).await }
}

/// A review decision set through a record update.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ReviewedChange {
    /// Marked reviewed by this user now, with this decision when the new status is one.
    Reviewed {
        /// The reviewer.
        by: Uuid,
        /// `approved` or `rejected`, when the status says so.
        decision: Option<ReviewStatus>,
    },
    /// Marked unreviewed: the review fields are cleared.
    Unreviewed,
}

/// The fields a record update sets; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct Changes {
    /// New title.
    pub title: Option<String>,
    /// New description (`Some(None)` clears it).
    pub description: Option<Option<String>>,
    /// New media type.
    pub media_type: Option<MediaType>,
    /// New location (`Some(None)` clears it).
    pub location: Option<Option<Location>>,
    /// New language.
    pub language: Option<Option<String>>,
    /// New release rights.
    pub release_rights: Option<Option<String>>,
    /// New metadata.
    pub metadata: Option<Option<Value>>,
    /// New status.
    pub status: Option<RecordStatus>,
    /// Review stamp.
    pub reviewed: Option<ReviewedChange>,
}

/// Applies `changes` to a record and reads it back (`None` when it does not exist). Marking it
/// reviewed also ends any review claim on it.
#[tracing::instrument(skip_all)]
pub async fn update(db: &mut PgConnection, uid: Uuid, changes: &Changes) -> sqlx::Result<Option<RecordRow>> {
    let mut qb = QueryBuilder::<Postgres>::new("UPDATE record r SET updated_at = r.updated_at");
    if let Some(title) = &changes.title {
        qb.push(", title = ").push_bind(title.clone());
    }
    if let Some(description) = &changes.description {
        qb.push(", description = ").push_bind(description.clone());
    }
    if let Some(media_type) = changes.media_type {
        qb.push(", media_type = ").push_bind(media_type);
    }
    match changes.location {
        Some(Some(p)) => {
            qb.push(", location = ST_SetSRID(ST_MakePoint(")
                .push_bind(p.longitude)
                .push("::float8, ")
                .push_bind(p.latitude)
                .push("::float8), 4326)");
        }
        Some(None) => {
            qb.push(", location = NULL");
        }
        None => {}
    }
    if let Some(language) = &changes.language {
        qb.push(", language = ").push_bind(language.clone());
    }
    if let Some(rights) = &changes.release_rights {
        qb.push(", release_rights = ").push_bind(rights.clone());
    }
    if let Some(metadata) = &changes.metadata {
        qb.push(", metadata = ").push_bind(metadata.clone());
    }
    if let Some(status) = &changes.status {
        qb.push(", status = ").push_bind(status.clone());
    }
    match changes.reviewed {
        Some(ReviewedChange::Reviewed { by, decision }) => {
            qb.push(", reviewed = true, reviewed_by = ")
                .push_bind(by)
                .push(", reviewed_at = now(), review_status = COALESCE(")
                .push_bind(decision)
                .push(", r.review_status)");
        }
        Some(ReviewedChange::Unreviewed) => {
            qb.push(
                ", reviewed = false, reviewed_by = NULL, reviewed_at = NULL, review_status = NULL, review_note = NULL",
            );
        }
        None => {}
    }
    qb.push(" WHERE r.uid = ").push_bind(uid);
    if qb.build().execute(&mut *db).await?.rows_affected() == 0 {
        return Ok(None);
    }
    if matches!(changes.reviewed, Some(ReviewedChange::Reviewed { .. })) {
        end_review_claim(&mut *db, uid).await?;
    }
    get(db, uid).await
}

/// Deletes a record; returns `Some(object key)` when it existed.
#[tracing::instrument(skip_all)]
pub async fn delete(db: impl PgExecutor<'_>, uid: Uuid) -> sqlx::Result<Option<Option<String>>> {
    sqlx::query_scalar!("DELETE FROM record WHERE uid = $1 RETURNING object_key", uid).fetch_optional(db).await
}

/// Ends the review claim on a record, if any (a decision was recorded; see [`super::review`]).
#[tracing::instrument(skip_all)]
pub async fn end_review_claim(db: impl PgExecutor<'_>, uid: Uuid) -> sqlx::Result<()> {
    sqlx::query!("DELETE FROM review_claim WHERE record_uid = $1", uid).execute(db).await?;
    Ok(())
}

/// A record whose duration a job may (re)compute.
#[derive(Debug, Clone)]
pub struct DurationCandidate {
    /// Record id.
    pub uid: Uuid,
    /// Its object.
    pub object_key: String,
    /// Its stored size.
    pub file_size: Option<i64>,
}

/// Audio and video records (of `media_types`) with an object and no known duration, or one the
/// file could not hold, or (`include_implausible`) one flagged implausible; after `after` in id
/// order, at most `limit`.
#[tracing::instrument(skip_all)]
pub async fn needing_duration(
    db: impl PgExecutor<'_>,
    media_types: &[String],
    after: Option<Uuid>,
    limit: i64,
) -> sqlx::Result<Vec<DurationCandidate>> {
    sqlx::query_as!(
        DurationCandidate,
        r#"SELECT uid, object_key AS "object_key!", file_size FROM record
           WHERE media_type::text = ANY($1) AND object_key IS NOT NULL
             AND (duration_seconds IS NULL OR duration_seconds <= 0 OR duration_implausible)
             AND ($2::uuid IS NULL OR uid > $2)
           ORDER BY uid LIMIT $3"#,
        media_types,
        after,
        limit
    )
    .fetch_all(db)
    .await
}

/// One record's duration candidate, whatever its current duration.
#[tracing::instrument(skip_all)]
pub async fn duration_candidate(db: impl PgExecutor<'_>, uid: Uuid) -> sqlx::Result<Option<DurationCandidate>> {
    sqlx::query_as!(
        DurationCandidate,
        r#"SELECT uid, object_key AS "object_key!", file_size FROM record WHERE uid = $1 AND object_key IS NOT NULL"#,
        uid
    )
    .fetch_optional(db)
    .await
}

/// Stores a computed duration (and its implausible flag); true when it changed the record.
#[tracing::instrument(skip_all)]
pub async fn set_duration(
    db: impl PgExecutor<'_>,
    uid: Uuid,
    seconds: Option<i32>,
    implausible: bool,
) -> sqlx::Result<bool> {
    let done = sqlx::query!(
        "UPDATE record SET duration_seconds = $2, duration_implausible = $3, updated_at = now()
         WHERE uid = $1 AND (duration_seconds IS DISTINCT FROM $2 OR duration_implausible IS DISTINCT FROM $3)",
        uid,
        seconds,
        implausible
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}
