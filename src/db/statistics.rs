//! Corpus statistics: how much was collected, of what, by whom and when. One module serves the
//! admin statistics endpoint, the reports and the console's dashboard, so they always agree.
//!
//! Durations are summed from `duration_seconds`, which is null when unknown or implausible, so a
//! flagged record never counts in hours. Every function takes any executor; callers own
//! transactions (a report reads all of them in one snapshot).

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use sqlx::{Connection, PgConnection, PgExecutor};
use tracing::instrument;
use uuid::Uuid;

use crate::domain::MediaType;

/// Counts and durations of a group of records.
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Totals {
    /// Records.
    pub records: i64,
    /// Sum of known audio and video durations, in seconds.
    pub duration_seconds: i64,
    /// The same in hours (rounded to 0.01).
    pub hours: f64,
    /// Stored bytes (`file_size`), 0 for records without a file.
    pub bytes: i64,
}

impl Totals {
    fn new(records: i64, duration_seconds: i64, bytes: i64) -> Self {
        Totals { records, duration_seconds, hours: hours(duration_seconds), bytes }
    }
}

fn hours(seconds: i64) -> f64 {
    (seconds as f64 / 36.0).round() / 100.0
}

/// Records of one category.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct CategoryTotals {
    /// Category id.
    pub category_id: Uuid,
    /// Category name.
    pub name: String,
    /// Category title.
    pub title: String,
    /// Counts and durations.
    #[serde(flatten)]
    pub totals: Totals,
}

/// Records of one media type.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct MediaTypeTotals {
    /// Media type.
    pub media_type: MediaType,
    /// Counts and durations.
    #[serde(flatten)]
    pub totals: Totals,
}

/// Records of one language, as clients sent it (`null`: not given).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct LanguageTotals {
    /// Language.
    pub language: Option<String>,
    /// Counts and durations.
    #[serde(flatten)]
    pub totals: Totals,
}

/// Records of one contributor.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ContributorTotals {
    /// User id.
    pub user_id: Uuid,
    /// Display name.
    pub name: String,
    /// Counts and durations.
    #[serde(flatten)]
    pub totals: Totals,
}

/// Records created on one day (UTC).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct DayTotals {
    /// The day.
    pub day: NaiveDate,
    /// Counts and durations.
    #[serde(flatten)]
    pub totals: Totals,
}

/// Where the review work stands.
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ReviewTotals {
    /// Records not reviewed yet (the queue reviewers work through).
    pub backlog: i64,
    /// Records a reviewer approved.
    pub approved: i64,
    /// Records a reviewer rejected.
    pub rejected: i64,
    /// Records currently leased to a reviewer.
    pub in_review: i64,
}

/// The whole picture, as served to admins and used by reports and the console.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct CorpusStatistics {
    /// When these numbers were read.
    pub generated_at: DateTime<Utc>,
    /// Every record.
    pub total: Totals,
    /// Users.
    pub users: i64,
    /// Users with at least one record.
    pub contributors: i64,
    /// Per category, largest first.
    pub by_category: Vec<CategoryTotals>,
    /// Per media type, every media type (zeros included).
    pub by_media_type: Vec<MediaTypeTotals>,
    /// Per language, largest first.
    pub by_language: Vec<LanguageTotals>,
    /// The most productive contributors (by records, then hours), at most `top` of them.
    pub top_contributors: Vec<ContributorTotals>,
    /// Per day over the last `days` days (UTC), oldest first, days without records included.
    pub by_day: Vec<DayTotals>,
    /// Review backlog and outcomes.
    pub review: ReviewTotals,
}

/// How much of the picture to read.
#[derive(Debug, Clone, Copy)]
pub struct Scope {
    /// Days of history in `by_day` (1..=366).
    pub days: i64,
    /// Contributors in `top_contributors` (1..=100).
    pub top: i64,
}

impl Default for Scope {
    fn default() -> Self {
        Scope { days: 30, top: 10 }
    }
}

/// Reads every statistic in one repeatable-read snapshot, so the parts add up.
#[instrument(skip_all, fields(days = scope.days, top = scope.top))]
pub async fn corpus(conn: &mut PgConnection, scope: Scope) -> sqlx::Result<CorpusStatistics> {
    let days = scope.days.clamp(1, 366);
    let top = scope.top.clamp(1, 100);
    let mut tx = conn.begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY").await?;
    let statistics = CorpusStatistics {
        generated_at: Utc::now(),
        total: total(&mut *tx).await?,
        users: users(&mut *tx).await?,
        contributors: contributors(&mut *tx).await?,
        by_category: by_category(&mut *tx).await?,
        by_media_type: by_media_type(&mut *tx).await?,
        by_language: by_language(&mut *tx).await?,
        top_contributors: top_contributors(&mut *tx, top).await?,
        by_day: by_day(&mut *tx, days).await?,
        review: review(&mut *tx).await?,
    };
    // Read only: committing changes nothing, it only ends the snapshot.
    tx.commit().await?;
    Ok(statistics)
}

/// Totals over every record.
#[instrument(skip_all)]
pub async fn total(db: impl PgExecutor<'_>) -> sqlx::Result<Totals> {
    let row = sqlx::query!(
        r#"SELECT count(*) AS "records!", COALESCE(sum(duration_seconds), 0)::bigint AS "seconds!",
                  COALESCE(sum(file_size), 0)::bigint AS "bytes!"
           FROM record"#
    )
    .fetch_one(db)
    .await?;
    Ok(Totals::new(row.records, row.seconds, row.bytes))
}

/// Users of the service.
#[instrument(skip_all)]
pub async fn users(db: impl PgExecutor<'_>) -> sqlx::Result<i64> {
    sqlx::query_scalar!(r#"SELECT count(*) AS "n!" FROM "user""#).fetch_one(db).await
}

/// Users with at least one record.
#[instrument(skip_all)]
pub async fn contributors(db: impl PgExecutor<'_>) -> sqlx::Result<i64> {
    sqlx::query_scalar!(r#"SELECT count(DISTINCT user_id) AS "n!" FROM record"#).fetch_one(db).await
}

/// Per category, largest first; categories without records are listed with zeros.
#[instrument(skip_all)]
pub async fn by_category(db: impl PgExecutor<'_>) -> sqlx::Result<Vec<CategoryTotals>> {
    let rows = sqlx::query!(
        r#"SELECT c.id, c.name, c.title, count(r.uid) AS "records!",
                  COALESCE(sum(r.duration_seconds), 0)::bigint AS "seconds!",
                  COALESCE(sum(r.file_size), 0)::bigint AS "bytes!"
           FROM category c LEFT JOIN record r ON r.category_id = c.id
           GROUP BY c.id ORDER BY 4 DESC, 5 DESC, c.rank, c.name"#
    )
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| CategoryTotals {
            category_id: r.id,
            name: r.name,
            title: r.title,
            totals: Totals::new(r.records, r.seconds, r.bytes),
        })
        .collect())
}

/// Per media type: every media type, in their fixed order, zeros included.
#[instrument(skip_all)]
pub async fn by_media_type(db: impl PgExecutor<'_>) -> sqlx::Result<Vec<MediaTypeTotals>> {
    let rows = sqlx::query!(
        r#"SELECT media_type AS "media_type: MediaType", count(*) AS "records!",
                  COALESCE(sum(duration_seconds), 0)::bigint AS "seconds!",
                  COALESCE(sum(file_size), 0)::bigint AS "bytes!"
           FROM record GROUP BY media_type"#
    )
    .fetch_all(db)
    .await?;
    Ok(MediaType::ALL
        .into_iter()
        .map(|media_type| {
            let totals = rows
                .iter()
                .find(|r| r.media_type == media_type)
                .map_or_else(Totals::default, |r| Totals::new(r.records, r.seconds, r.bytes));
            MediaTypeTotals { media_type, totals }
        })
        .collect())
}

/// Per language as sent by clients, largest first.
#[instrument(skip_all)]
pub async fn by_language(db: impl PgExecutor<'_>) -> sqlx::Result<Vec<LanguageTotals>> {
    let rows = sqlx::query!(
        r#"SELECT language, count(*) AS "records!",
                  COALESCE(sum(duration_seconds), 0)::bigint AS "seconds!",
                  COALESCE(sum(file_size), 0)::bigint AS "bytes!"
           FROM record GROUP BY language ORDER BY 2 DESC, 3 DESC, language NULLS LAST"#
    )
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| LanguageTotals { language: r.language, totals: Totals::new(r.records, r.seconds, r.bytes) })
        .collect())
}

/// The `top` contributors by records, then by duration.
#[instrument(skip_all)]
pub async fn top_contributors(db: impl PgExecutor<'_>, top: i64) -> sqlx::Result<Vec<ContributorTotals>> {
    let rows = sqlx::query!(
        r#"SELECT u.id, u.name, t.records AS "records!", t.seconds AS "seconds!", t.bytes AS "bytes!"
           FROM (SELECT user_id, count(*) AS records,
                        COALESCE(sum(duration_seconds), 0)::bigint AS seconds,
                        COALESCE(sum(file_size), 0)::bigint AS bytes
                 FROM record GROUP BY user_id
                 ORDER BY 2 DESC, 3 DESC, user_id LIMIT $1) t
           JOIN "user" u ON u.id = t.user_id
           ORDER BY t.records DESC, t.seconds DESC, u.id"#,
        top
    )
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| ContributorTotals { user_id: r.id, name: r.name, totals: Totals::new(r.records, r.seconds, r.bytes) })
        .collect())
}

/// Per UTC day over the last `days` days, oldest first, empty days included.
#[instrument(skip_all)]
pub async fn by_day(db: impl PgExecutor<'_>, days: i64) -> sqlx::Result<Vec<DayTotals>> {
    let rows = sqlx::query!(
        r#"WITH span AS (
               SELECT generate_series((now() AT TIME ZONE 'UTC')::date - ($1::int - 1),
                                      (now() AT TIME ZONE 'UTC')::date, interval '1 day')::date AS day)
           SELECT s.day AS "day!", count(r.uid) AS "records!",
                  COALESCE(sum(r.duration_seconds), 0)::bigint AS "seconds!",
                  COALESCE(sum(r.file_size), 0)::bigint AS "bytes!"
           FROM span s
           LEFT JOIN record r ON r.created_at >= s.day::timestamp AT TIME ZONE 'UTC'
                             AND r.created_at < (s.day + 1)::timestamp AT TIME ZONE 'UTC'
           GROUP BY s.day ORDER BY s.day"#,
        days as i32
    )
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(|r| DayTotals { day: r.day, totals: Totals::new(r.records, r.seconds, r.bytes) }).collect())
}

/// The review backlog (records not reviewed) and outcomes.
#[instrument(skip_all)]
pub async fn review(db: impl PgExecutor<'_>) -> sqlx::Result<ReviewTotals> {
    let row = sqlx::query!(
        r#"SELECT count(*) FILTER (WHERE NOT r.reviewed) AS "backlog!",
                  count(*) FILTER (WHERE r.reviewed AND r.review_status = 'approved') AS "approved!",
                  count(*) FILTER (WHERE r.reviewed AND r.review_status = 'rejected') AS "rejected!",
                  count(c.record_uid) FILTER (WHERE NOT r.reviewed AND c.expires_at >= now()) AS "in_review!"
           FROM record r LEFT JOIN review_claim c ON c.record_uid = r.uid"#
    )
    .fetch_one(db)
    .await?;
    Ok(ReviewTotals { backlog: row.backlog, approved: row.approved, rejected: row.rejected, in_review: row.in_review })
}
