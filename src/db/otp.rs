//! One-time code rows: stored when sent, the newest live one looked up for a check, attempts
//! counted, spent, and long-expired ones deleted. Hashing and comparing codes is
//! [`crate::auth::otp`]'s.

use chrono::{DateTime, Duration, Utc};
use sqlx::{PgExecutor, PgPool};
use uuid::Uuid;

use crate::domain::Phone;

/// What a code was sent for; a code is only good for its own flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtpPurpose {
    /// Logging in to an existing account (`/auth/send-otp`, `/auth/login/send-otp`).
    Login,
    /// Creating an account (`/auth/signup/send-otp`).
    Signup,
    /// Setting a new password (`/auth/forgot-password`).
    Reset,
}

impl OtpPurpose {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            OtpPurpose::Login => "login",
            OtpPurpose::Signup => "signup",
            OtpPurpose::Reset => "reset",
        }
    }
}

/// True when a code went to `phone` less than `minutes` ago (for any purpose).
#[tracing::instrument(skip_all)]
pub async fn sent_recently(db: impl PgExecutor<'_>, phone: &Phone, minutes: i64) -> sqlx::Result<bool> {
    sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM otp WHERE phone_number = $1 AND created_at > now() - make_interval(mins => $2))
           AS "sent!""#,
        phone.as_str(),
        minutes as i32
    )
    .fetch_one(db)
    .await
}

/// Stores a code that has just been sent, and only then retires the older unspent codes of the
/// same phone and purpose, so a failed send never kills a code the user may still be typing.
#[tracing::instrument(skip_all)]
pub async fn store_sent(
    db: &PgPool,
    phone: &Phone,
    purpose: OtpPurpose,
    otp_hash: &str,
    expires_at: DateTime<Utc>,
    reference_id: Option<&str>,
) -> sqlx::Result<Uuid> {
    let mut tx = db.begin().await?;
    let id = sqlx::query_scalar!(
        "INSERT INTO otp (id, phone_number, otp_hash, attempts, is_verified, expires_at, reference_id, purpose,
                          created_at, updated_at)
         VALUES (gen_random_uuid(), $1, $2, 0, false, $3, $4, $5, clock_timestamp(), clock_timestamp()) RETURNING id",
        phone.as_str(),
        otp_hash,
        expires_at,
        reference_id,
        purpose.as_str()
    )
    .fetch_one(&mut *tx)
    .await?;
    sqlx::query!(
        "UPDATE otp SET invalidated_at = now()
         WHERE phone_number = $1 AND purpose = $2 AND id <> $3 AND NOT is_verified AND invalidated_at IS NULL",
        phone.as_str(),
        purpose.as_str(),
        id
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(id)
}

/// The newest code of a phone and purpose that may still be tried.
#[derive(Debug)]
pub struct LiveCode {
    /// Row id.
    pub id: Uuid,
    /// The stored hash.
    pub otp_hash: String,
    /// Submissions so far.
    pub attempts: i32,
}

/// The newest live code of `phone` for `purpose` (unexpired, unspent, not retired, attempts left),
/// locked until the transaction ends so concurrent submissions are counted one after the other.
#[tracing::instrument(skip_all)]
pub async fn newest_live(
    db: impl PgExecutor<'_>,
    phone: &Phone,
    purpose: OtpPurpose,
    max_attempts: i32,
) -> sqlx::Result<Option<LiveCode>> {
    sqlx::query_as!(
        LiveCode,
        "SELECT id, otp_hash, attempts FROM otp
         WHERE phone_number = $1 AND purpose = $2 AND expires_at > now() AND NOT is_verified
               AND invalidated_at IS NULL AND attempts < $3
         ORDER BY created_at DESC LIMIT 1 FOR UPDATE",
        phone.as_str(),
        purpose.as_str(),
        max_attempts
    )
    .fetch_optional(db)
    .await
}

/// Stores the number of submissions of a code.
#[tracing::instrument(skip_all)]
pub async fn set_attempts(db: impl PgExecutor<'_>, id: Uuid, attempts: i32) -> sqlx::Result<()> {
    sqlx::query!("UPDATE otp SET attempts = $2 WHERE id = $1", id, attempts).execute(db).await?;
    Ok(())
}

/// Marks a code as used: it never verifies again.
#[tracing::instrument(skip_all)]
pub async fn spend(db: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<()> {
    sqlx::query!("UPDATE otp SET is_verified = true WHERE id = $1", id).execute(db).await?;
    Ok(())
}

/// Deletes codes that expired more than `older_than` ago; returns how many.
#[tracing::instrument(skip_all)]
pub async fn delete_expired(db: impl PgExecutor<'_>, older_than: Duration) -> sqlx::Result<u64> {
    Ok(sqlx::query!("DELETE FROM otp WHERE expires_at < $1", Utc::now() - older_than)
        .execute(db)
        .await?
        .rows_affected())
}
