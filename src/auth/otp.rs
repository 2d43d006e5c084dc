//! One-time codes: generated from the operating system's CSPRNG, stored as HMAC-SHA256 keyed by
//! phone + secret (the original's scheme, so carried-over rows stay valid), valid for
//! `OTP_EXPIRY_MINUTES`, spent after `OTP_MAX_ATTEMPTS` submissions. Codes are never logged.

use chrono::{DateTime, Duration, Utc};
use hmac::{Hmac, Mac};
use rand::{Rng, rngs::OsRng};
use sha2::Sha256;
use sqlx::{PgConnection, PgExecutor, PgPool};
use subtle::ConstantTimeEq;
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

/// A fresh 6-digit code (leading zeros kept), from the OS CSPRNG.
pub fn generate_code() -> String {
    format!("{:06}", OsRng.gen_range(0..1_000_000u32))
}

/// The stored form of a code: lowercase hex HMAC-SHA256, key = phone + secret, message = code.
pub fn hash_code(phone: &str, secret: &str, code: &str) -> String {
    let mut key = Vec::with_capacity(phone.len() + secret.len());
    key.extend_from_slice(phone.as_bytes());
    key.extend_from_slice(secret.as_bytes());
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("HMAC takes any key length");
    mac.update(code.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// Compares a submitted code with a stored hash in constant time.
pub fn code_matches(phone: &str, secret: &str, code: &str, stored: &str) -> bool {
    let computed = hash_code(phone, secret, code);
    computed.as_bytes().ct_eq(stored.trim().to_ascii_lowercase().as_bytes()).into()
}

/// True when a code went to `phone` less than `minutes` ago (for any purpose).
pub async fn sent_recently(db: impl PgExecutor<'_>, phone: &Phone, minutes: i64) -> sqlx::Result<bool> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM otp WHERE phone_number = $1 AND created_at > now() - make_interval(mins => $2))",
    )
    .bind(phone)
    .bind(minutes as i32)
    .fetch_one(db)
    .await
}

/// Stores a code that has just been sent, and only then retires the older unspent codes of the
/// same phone and purpose, so a failed send never kills a code the user may still be typing.
pub async fn store_sent(
    db: &PgPool,
    phone: &Phone,
    purpose: OtpPurpose,
    otp_hash: &str,
    expires_at: DateTime<Utc>,
    reference_id: Option<&str>,
) -> sqlx::Result<Uuid> {
    let mut tx = db.begin().await?;
    let id: Uuid = sqlx::query_scalar(
        "INSERT INTO otp (id, phone_number, otp_hash, attempts, is_verified, expires_at, reference_id, purpose, \
                          created_at, updated_at) \
         VALUES (gen_random_uuid(), $1, $2, 0, false, $3, $4, $5, clock_timestamp(), clock_timestamp()) RETURNING id",
    )
    .bind(phone)
    .bind(otp_hash)
    .bind(expires_at)
    .bind(reference_id)
    .bind(purpose.as_str())
    .fetch_one(&mut *tx)
    .await?;
    sqlx::query(
        "UPDATE otp SET invalidated_at = now() \
         WHERE phone_number = $1 AND purpose = $2 AND id <> $3 AND NOT is_verified AND invalidated_at IS NULL",
    )
    .bind(phone)
    .bind(purpose.as_str())
    .bind(id)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(id)
}

#[derive(sqlx::FromRow)]
struct Candidate {
    id: Uuid,
    otp_hash: String,
    attempts: i32,
}

/// Checks `code` against the newest live code of `phone` for `purpose`, counting the attempt.
/// A code allows `max_attempts` submissions in total; a right code is spent by its first use.
pub async fn verify(
    db: &PgPool,
    phone: &Phone,
    purpose: OtpPurpose,
    code: &str,
    secret: &str,
    max_attempts: i32,
) -> sqlx::Result<bool> {
    let mut tx = db.begin().await?;
    let matched = check(&mut tx, phone, purpose, code, secret, max_attempts).await?;
    if let Some(id) = matched {
        spend(&mut *tx, id).await?;
    }
    tx.commit().await?;
    Ok(matched.is_some())
}

/// Checks `code` inside the caller's transaction and counts the attempt, but does not spend a
/// right code: the caller spends it with [`spend`] in the same transaction once the action the
/// code unlocks has succeeded (and commits either way, so the attempt stays counted). The code's
/// row stays locked until then, so concurrent submissions are counted one after the other.
/// Returns the id of the matched code.
pub async fn check(
    conn: &mut PgConnection,
    phone: &Phone,
    purpose: OtpPurpose,
    code: &str,
    secret: &str,
    max_attempts: i32,
) -> sqlx::Result<Option<Uuid>> {
    let candidate = sqlx::query_as::<_, Candidate>(
        "SELECT id, otp_hash, attempts FROM otp \
         WHERE phone_number = $1 AND purpose = $2 AND expires_at > now() AND NOT is_verified \
               AND invalidated_at IS NULL AND attempts < $3 \
         ORDER BY created_at DESC LIMIT 1 FOR UPDATE",
    )
    .bind(phone)
    .bind(purpose.as_str())
    .bind(max_attempts)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(candidate) = candidate else { return Ok(None) };
    let attempts = candidate.attempts + 1;
    let ok = attempts <= max_attempts && code_matches(phone.as_str(), secret, code, &candidate.otp_hash);
    sqlx::query("UPDATE otp SET attempts = $2 WHERE id = $1").bind(candidate.id).bind(attempts).execute(conn).await?;
    Ok(ok.then_some(candidate.id))
}

/// Marks a code found by [`check`] as used: it never verifies again.
pub async fn spend(db: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<()> {
    sqlx::query("UPDATE otp SET is_verified = true WHERE id = $1").bind(id).execute(db).await?;
    Ok(())
}

/// Deletes codes that expired more than `older_than` ago; returns how many.
pub async fn delete_expired(db: impl PgExecutor<'_>, older_than: Duration) -> sqlx::Result<u64> {
    Ok(sqlx::query("DELETE FROM otp WHERE expires_at < $1")
        .bind(Utc::now() - older_than)
        .execute(db)
        .await?
        .rows_affected())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_matches_the_original_test_vector() {
        assert_eq!(
            hash_code("+919000000003", "testsecret", "672050"),
            "ffdd52f8a0c5beb12032f428a885cbe3d167187012e1583c43ddfd0c12e52061"
        );
        assert!(code_matches(
            "+919000000003",
            "testsecret",
            "672050",
            "ffdd52f8a0c5beb12032f428a885cbe3d167187012e1583c43ddfd0c12e52061"
        ));
        assert!(!code_matches(
            "+919000000003",
            "testsecret",
            "672051",
            "ffdd52f8a0c5beb12032f428a885cbe3d167187012e1583c43ddfd0c12e52061"
        ));
    }

    #[test]
    fn codes_are_six_digits() {
        for _ in 0..200 {
            let code = generate_code();
            assert_eq!(code.len(), 6);
            assert!(code.bytes().all(|b| b.is_ascii_digit()));
        }
    }
}
