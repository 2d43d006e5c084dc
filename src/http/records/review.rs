//! Review: a decision on one record, and a queue that hands each reviewer different records.

use axum::{
    Json,
    extract::{Path, State},
};
use serde::Deserialize;
use uuid::Uuid;

use super::shared::{IntoRead, RecordRead, parse_record_id, record_not_found};
use crate::{
    auth::{Auth, roles::AdminOrReviewer},
    db::review::{self, QueueRequest},
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
    let row = review::decide(&mut tx, uid, auth.id, body.decision.status(), body.note.as_deref())
        .await?
        .ok_or_else(record_not_found)?;
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
    let request = QueueRequest {
        reviewer: auth.id,
        category_id: q.category_id,
        media_type: q.media_type,
        limit: q.limit,
        lease_seconds: q.lease_seconds,
    };
    let mut tx = state.db.begin().await?;
    let rows = review::claim_next(&mut tx, request).await?;
    tx.commit().await?;
    Ok(Json(rows.into_iter().map(|r| r.into_read(&state.config)).collect()))
}
