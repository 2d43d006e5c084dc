//! One-time codes: generated from the operating system's CSPRNG, stored as HMAC-SHA256 keyed by
//! phone + secret (the original's scheme, so carried-over rows stay valid), valid for
//! `OTP_EXPIRY_MINUTES`, spent after `OTP_MAX_ATTEMPTS` submissions. Codes are never logged.

use hmac::{Hmac, Mac};
use rand::{Rng, rngs::OsRng};
use sha2::Sha256;
use sqlx::{PgConnection, PgPool};
use subtle::ConstantTimeEq;
use uuid::Uuid;

use crate::{db, domain::Phone};

pub use crate::db::otp::{OtpPurpose, delete_expired, sent_recently, spend, store_sent};

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
    let candidate = db::otp::newest_live(&mut *conn, phone, purpose, max_attempts).await?;
    let Some(candidate) = candidate else { return Ok(None) };
    let attempts = candidate.attempts + 1;
    let ok = attempts <= max_attempts && code_matches(phone.as_str(), secret, code, &candidate.otp_hash);
    db::otp::set_attempts(conn, candidate.id, attempts).await?;
    Ok(ok.then_some(candidate.id))
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
