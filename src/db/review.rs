//! Review: a reviewer's decision on a record, and the queue that leases unreviewed records so two
//! reviewers never get the same one.

use sqlx::PgConnection;
use uuid::Uuid;

use super::records::{self, RecordRow};
use crate::domain::{MediaType, RecordStatus, ReviewStatus};

/// Serialises queue claims (advisory lock key, "review").
const REVIEW_QUEUE_LOCK: i64 = 0x7265_7669_6577;

/// Records a decision (the status follows it) and ends any claim on the record; `None` when the
/// record does not exist.
#[tracing::instrument(skip_all)]
pub async fn decide(
    db: &mut PgConnection,
    uid: Uuid,
    reviewer: Uuid,
    decision: ReviewStatus,
    note: Option<&str>,
) -> sqlx::Result<Option<RecordRow>> {
    let status = RecordStatus::from(decision);
    let updated = sqlx::query!(
        "UPDATE record SET reviewed = true, reviewed_by = $2, reviewed_at = now(), review_status = $3,
             status = $4, review_note = $5
         WHERE uid = $1",
        uid,
        reviewer,
        decision.as_str(),
        status.as_str(),
        note,
    )
    .execute(&mut *db)
    .await?
    .rows_affected();
    if updated == 0 {
        return Ok(None);
    }
    records::end_review_claim(&mut *db, uid).await?;
    records::get(db, uid).await
}

/// What a reviewer asks the queue for.
#[derive(Debug, Clone, Copy)]
pub struct QueueRequest {
    /// The reviewer.
    pub reviewer: Uuid,
    /// Only this category.
    pub category_id: Option<Uuid>,
    /// Only this media type.
    pub media_type: Option<MediaType>,
    /// How many records.
    pub limit: i64,
    /// How long the lease lasts.
    pub lease_seconds: i64,
}

/// Leases the oldest unreviewed records nobody else holds (or this reviewer already holds) and
/// returns them, oldest first. Must run in its own transaction, which it locks for the claim.
#[tracing::instrument(skip_all)]
pub async fn claim_next(db: &mut PgConnection, q: QueueRequest) -> sqlx::Result<Vec<RecordRow>> {
    // Claims are serialised: a statement started while another claim was being committed would
    // not see it (its snapshot is older) and would come back empty-handed although records remain.
    sqlx::query!("SELECT pg_advisory_xact_lock($1)", REVIEW_QUEUE_LOCK).execute(&mut *db).await?;
    // SKIP LOCKED passes over records a review is writing right now; the conditional upsert
    // never takes over another reviewer's live claim.
    let claimed: Vec<Uuid> = sqlx::query_scalar!(
        r#"WITH candidates AS (
               SELECT r.uid FROM record r
               LEFT JOIN review_claim c ON c.record_uid = r.uid
               WHERE NOT r.reviewed AND (c.record_uid IS NULL OR c.expires_at < now() OR c.reviewer_id = $1)
                 AND ($2::uuid IS NULL OR r.category_id = $2)
                 AND ($3::mediatype IS NULL OR r.media_type = $3)
               ORDER BY r.created_at, r.uid LIMIT $4
               FOR UPDATE OF r SKIP LOCKED
           )
           INSERT INTO review_claim AS c (record_uid, reviewer_id, expires_at)
           SELECT uid, $1, now() + make_interval(secs => $5) FROM candidates
           ON CONFLICT (record_uid) DO UPDATE SET reviewer_id = EXCLUDED.reviewer_id, expires_at = EXCLUDED.expires_at
           WHERE c.expires_at < now() OR c.reviewer_id = EXCLUDED.reviewer_id
           RETURNING c.record_uid AS "record_uid!""#,
        q.reviewer,
        q.category_id,
        q.media_type as Option<MediaType>,
        q.limit,
        q.lease_seconds as f64,
    )
    .fetch_all(&mut *db)
    .await?;
    records::get_many(db, &claimed).await
}
