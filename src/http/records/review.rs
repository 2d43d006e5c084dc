//! Review: a decision on one record, and a queue that hands each reviewer different records.

use axum::{
    Json,
    extract::{Path, State},
};
use serde::Deserialize;
use sqlx::{Postgres, QueryBuilder};
use uuid::Uuid;

use super::shared::{RECORD_COLUMNS, RecordRead, RecordRow, parse_record_id, record_not_found};
use crate::{
    auth::{Auth, roles::AdminOrReviewer},
    domain::{MediaType, ReviewStatus},
    error::Result,
    http::{
        ValidJson, ValidQuery, Validate, Validator,
        limits::{LEASE_MAX_SECONDS, LEASE_MIN_SECONDS, QUEUE_BATCH_MAX, REVIEW_NOTE_MAX},
    },
    state::AppState,
};

/// A reviewer's decision.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    /// Accept into the corpus.
    #[serde(alias = "approved")]
    Approve,
    /// Turn down.
    #[serde(alias = "rejected")]
    Reject,
}

impl Decision {
    fn status(self) -> ReviewStatus {
        match self {
            Decision::Approve => ReviewStatus::Approved,
            Decision::Reject => ReviewStatus::Rejected,
        }
    }
}

/// Body of `POST /records/{id}/review`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct ReviewRequest {
    /// `approve` or `reject`.
    pub decision: Decision,
    /// Optional note.
    #[serde(default)]
    #[schema(max_length = 1000)]
    pub note: Option<String>,
}

impl Validate for ReviewRequest {
    fn validate(&self, v: &mut Validator) {
        v.opt_str_len("note", self.note.as_deref(), 0, REVIEW_NOTE_MAX);
    }
}

/// Approves or rejects a record (reviewer or admin): stamps `reviewed`, `reviewed_by` = caller,
/// `reviewed_at` = now, `review_status`, `status` and the note, and releases any queue claim.
#[utoipa::path(post, path = "/api/v1/records/{record_id}/review", tag = "records", security(("HTTPBearer" = [])),
    params(("record_id" = String, Path)), request_body = ReviewRequest,
    responses((status = 200, body = RecordRead), (status = 400, body = crate::error::ErrorDetail),
        (status = 403, body = crate::error::ErrorDetail), (status = 404, body = crate::error::ErrorDetail)))]
pub async fn review_record(
    State(state): State<AppState>,
    auth: Auth<AdminOrReviewer>,
    Path(record_id): Path<String>,
    ValidJson(body): ValidJson<ReviewRequest>,
) -> Result<Json<RecordRead>> {
    let uid = parse_record_id(&record_id)?;
    let mut tx = state.db.begin().await?;
    let row = sqlx::query_as::<_, RecordRow>(&format!(
        "UPDATE record r SET reviewed = true, reviewed_by = $2, reviewed_at = now(), review_status = $3,
             status = $3, review_note = $4
         WHERE r.uid = $1 RETURNING {RECORD_COLUMNS}"
    ))
    .bind(uid)
    .bind(auth.id)
    .bind(body.decision.status())
    .bind(&body.note)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(record_not_found)?;
    sqlx::query("DELETE FROM review_claim WHERE record_uid = $1").bind(uid).execute(&mut *tx).await?;
    tx.commit().await?;
    Ok(Json(row.into_read(&state.config)))
}

/// Query of the review queue.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct QueueQuery {
    /// Only this category.
    pub category_id: Option<Uuid>,
    /// Only this media type.
    pub media_type: Option<MediaType>,
    /// How many records to claim.
    #[serde(default = "one")]
    #[param(minimum = 1, maximum = 50, default = 1)]
    pub limit: i64,
    /// How long the claim lasts, in seconds: after that, unreviewed records go back to the queue.
    #[serde(default = "lease")]
    #[param(minimum = 30, maximum = 3600, default = 900)]
    pub lease_seconds: i64,
}

fn one() -> i64 {
    1
}

fn lease() -> i64 {
    900
}

impl Validate for QueueQuery {
    fn validate(&self, v: &mut Validator) {
        v.range_i64("limit", self.limit, 1, QUEUE_BATCH_MAX);
        v.range_i64("lease_seconds", self.lease_seconds, LEASE_MIN_SECONDS, LEASE_MAX_SECONDS);
    }
}

/// The next unreviewed records, oldest first, claimed for the caller for `lease_seconds`: two
/// reviewers asking at the same time never get the same record. Records the caller already
/// holds are handed out again (a reload does not lose them).
#[utoipa::path(get, path = "/api/v1/records/review/queue", tag = "records", security(("HTTPBearer" = [])),
    params(QueueQuery),
    responses((status = 200, body = [RecordRead]), (status = 403, body = crate::error::ErrorDetail)))]
pub async fn queue(
    State(state): State<AppState>,
    auth: Auth<AdminOrReviewer>,
    ValidQuery(q): ValidQuery<QueueQuery>,
) -> Result<Json<Vec<RecordRead>>> {
    let rows = claim_next(&state, &auth, &q).await?;
    Ok(Json(rows.into_iter().map(|r| r.into_read(&state.config)).collect()))
}

/// Advisory lock serialising claims (a claim takes milliseconds; reviewers are people).
const REVIEW_QUEUE_LOCK: i64 = 0x7265_7669_6577; // "review"

/// Leases up to `limit` unreviewed records to the caller (its own live claims included).
async fn claim_next(state: &AppState, auth: &crate::auth::CurrentUser, q: &QueueQuery) -> Result<Vec<RecordRow>> {
    let mut qb = QueryBuilder::<Postgres>::new(
        "WITH candidates AS (
            SELECT r.uid, r.created_at FROM record r
            LEFT JOIN review_claim c ON c.record_uid = r.uid
            WHERE NOT r.reviewed AND (c.record_uid IS NULL OR c.expires_at < now() OR c.reviewer_id = ",
    );
    qb.push_bind(auth.id).push(")");
    if let Some(id) = q.category_id {
        qb.push(" AND r.category_id = ").push_bind(id);
    }
    if let Some(m) = q.media_type {
        qb.push(" AND r.media_type = ").push_bind(m);
    }
    // SKIP LOCKED passes over records a review is writing right now; the conditional upsert
    // below never takes over another reviewer's live claim.
    qb.push(" ORDER BY r.created_at, r.uid LIMIT ").push_bind(q.limit);
    qb.push(
        " FOR UPDATE OF r SKIP LOCKED
        ), claimed AS (
            INSERT INTO review_claim AS c (record_uid, reviewer_id, expires_at)
            SELECT uid, ",
    );
    qb.push_bind(auth.id).push(", now() + make_interval(secs => ").push_bind(q.lease_seconds as f64);
    qb.push(
        ") FROM candidates
            ON CONFLICT (record_uid) DO UPDATE SET reviewer_id = EXCLUDED.reviewer_id, expires_at = EXCLUDED.expires_at
            WHERE c.expires_at < now() OR c.reviewer_id = EXCLUDED.reviewer_id
            RETURNING c.record_uid
        )",
    );
    qb.push(format!(
        " SELECT {RECORD_COLUMNS} FROM record r JOIN claimed ON claimed.record_uid = r.uid ORDER BY r.created_at, r.uid"
    ));
    // Claims are serialised: a statement started while another claim was being committed would
    // not see it (its snapshot is older) and would come back empty-handed although records remain.
    let mut tx = state.db.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(REVIEW_QUEUE_LOCK).execute(&mut *tx).await?;
    let rows = qb.build_query_as().fetch_all(&mut *tx).await?;
    tx.commit().await?;
    Ok(rows)
}
