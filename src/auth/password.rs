//! Password hashing: argon2id for new hashes; the original's bcrypt (`$2b$`) hashes still verify
//! and are reported as needing a rehash. Both are slow on purpose, so they run on a blocking thread.

use argon2::{
    Argon2,
    password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng},
};

/// The outcome of checking a password against a stored hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verified {
    /// Wrong password (or an unreadable hash).
    No,
    /// Right password, hash is current.
    Yes,
    /// Right password, but the hash is a legacy bcrypt one: store a fresh argon2id hash.
    YesRehash,
}

/// Hashes a password with argon2id (blocking; see [`hash`]).
pub fn hash_blocking(password: &str) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Ok(Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| anyhow::anyhow!("hashing password: {e}"))?
        .to_string())
}

/// Checks a password against an argon2 or bcrypt hash (blocking; see [`verify`]).
pub fn verify_blocking(password: &str, stored: &str) -> Verified {
    if stored.starts_with("$2") {
        return match bcrypt::verify(password, stored) {
            Ok(true) => Verified::YesRehash,
            _ => Verified::No,
        };
    }
    match PasswordHash::new(stored) {
        Ok(parsed) if Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok() => Verified::Yes,
        _ => Verified::No,
    }
}

/// Hashes a password on a blocking thread.
pub async fn hash(password: String) -> anyhow::Result<String> {
    tokio::task::spawn_blocking(move || hash_blocking(&password)).await?
}

/// Verifies a password on a blocking thread.
pub async fn verify(password: String, stored: String) -> anyhow::Result<Verified> {
    Ok(tokio::task::spawn_blocking(move || verify_blocking(&password, &stored)).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argon2_round_trip() {
        let hash = hash_blocking("s3cret-pass").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert_eq!(verify_blocking("s3cret-pass", &hash), Verified::Yes);
        assert_eq!(verify_blocking("wrong", &hash), Verified::No);
    }

    #[test]
    fn legacy_bcrypt_verifies_and_asks_for_rehash() {
        let legacy = bcrypt::hash("admin123", 4).unwrap().replacen("$2y$", "$2b$", 1);
        assert_eq!(verify_blocking("admin123", &legacy), Verified::YesRehash);
        assert_eq!(verify_blocking("admin124", &legacy), Verified::No);
    }
}
