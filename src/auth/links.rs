//! Expiring file links for local storage: `GET /records/{id}/record-url` hands out a link to this
//! service that anyone holding it may use until it expires, as a presigned S3 URL would be.
//!
//! A link carries its expiry (seconds since the epoch) and an HMAC-SHA256 over the record id and
//! that expiry. The HMAC key is derived from `APP_SECRET_KEY` with HKDF for this one purpose, so
//! a link signature can never double as a token signature or an OTP hash, and rotating the secret
//! voids every link.

use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;
use uuid::Uuid;

/// HKDF `info` naming what the derived key is for.
const KEY_PURPOSE: &[u8] = b"corpus-te record file link v1";

/// Signs and checks expiring record file links.
#[derive(Clone)]
pub struct LinkKey {
    key: [u8; 32],
}

impl std::fmt::Debug for LinkKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LinkKey").finish_non_exhaustive()
    }
}

/// Why a link is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkError {
    /// The signature does not match (forged or altered).
    BadSignature,
    /// The link was valid, but its time is up.
    Expired,
}

impl LinkKey {
    /// The link key derived from the service secret.
    pub fn new(secret: &SecretString) -> Self {
        Self::for_purpose(secret, KEY_PURPOSE)
    }

    /// A link key for another kind of link (e.g. `b"corpus-te export download link v1"`): derived
    /// from the same secret for that purpose only, so one kind's signature is never valid for
    /// another.
    pub fn for_purpose(secret: &SecretString, purpose: &[u8]) -> Self {
        let mut key = [0u8; 32];
        Hkdf::<Sha256>::new(None, secret.expose_secret().as_bytes())
            .expand(purpose, &mut key)
            .expect("32 bytes is a valid HKDF-SHA256 output length");
        Self { key }
    }

    fn scoped_mac(&self, id: Uuid, scope: &str, expires: i64) -> Hmac<Sha256> {
        let mut mac = self.mac(id, expires);
        // Length first, so (scope, expiry) pairs can never be shifted into one another.
        mac.update(&(scope.len() as u64).to_be_bytes());
        mac.update(scope.as_bytes());
        mac
    }

    /// The signature (hex) of a link to `scope` (a file name) of `id` valid until `expires`.
    pub fn sign_scoped(&self, id: Uuid, scope: &str, expires: i64) -> String {
        hex::encode(self.scoped_mac(id, scope, expires).finalize().into_bytes())
    }

    /// Checks a scoped link at instant `now`: the signature first (constant time), then the expiry.
    pub fn verify_scoped(
        &self,
        id: Uuid,
        scope: &str,
        expires: i64,
        signature: &str,
        now: i64,
    ) -> Result<(), LinkError> {
        let bytes = hex::decode(signature).map_err(|_| LinkError::BadSignature)?;
        self.scoped_mac(id, scope, expires).verify_slice(&bytes).map_err(|_| LinkError::BadSignature)?;
        if now > expires { Err(LinkError::Expired) } else { Ok(()) }
    }

    fn mac(&self, record: Uuid, expires: i64) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes any key length");
        mac.update(record.as_bytes());
        mac.update(&expires.to_be_bytes());
        mac
    }

    /// The signature (hex) of a link to `record`'s file valid until `expires` (seconds since the
    /// epoch).
    pub fn sign(&self, record: Uuid, expires: i64) -> String {
        hex::encode(self.mac(record, expires).finalize().into_bytes())
    }

    /// Checks a link at instant `now` (seconds since the epoch): the signature first (in constant
    /// time), then the expiry.
    pub fn verify(&self, record: Uuid, expires: i64, signature: &str, now: i64) -> Result<(), LinkError> {
        let bytes = hex::decode(signature).map_err(|_| LinkError::BadSignature)?;
        self.mac(record, expires).verify_slice(&bytes).map_err(|_| LinkError::BadSignature)?;
        if now > expires { Err(LinkError::Expired) } else { Ok(()) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_verify_until_they_expire_and_only_for_their_record_and_key() {
        let key = LinkKey::new(&SecretString::from("a-secret-of-some-length-000000000"));
        let record = Uuid::new_v4();
        let sig = key.sign(record, 1_000);
        assert_eq!(key.verify(record, 1_000, &sig, 999), Ok(()));
        assert_eq!(key.verify(record, 1_000, &sig, 1_000), Ok(()));
        assert_eq!(key.verify(record, 1_000, &sig, 1_001), Err(LinkError::Expired));
        // A longer life, another record, another secret, or a mangled signature: forged.
        assert_eq!(key.verify(record, 9_999, &sig, 0), Err(LinkError::BadSignature));
        assert_eq!(key.verify(Uuid::new_v4(), 1_000, &sig, 0), Err(LinkError::BadSignature));
        let other = LinkKey::new(&SecretString::from("another-secret-of-some-length-000"));
        assert_eq!(other.verify(record, 1_000, &sig, 0), Err(LinkError::BadSignature));
        assert_eq!(key.verify(record, 1_000, "zz", 0), Err(LinkError::BadSignature));
        assert_eq!(key.verify(record, 1_000, &sig[..10], 0), Err(LinkError::BadSignature));
        // Scoped links: only for their id, scope and key purpose.
        let export = LinkKey::for_purpose(&SecretString::from("a-secret-of-some-length-000000000"), b"export");
        let scoped = export.sign_scoped(record, "user_data.json", 1_000);
        assert_eq!(export.verify_scoped(record, "user_data.json", 1_000, &scoped, 10), Ok(()));
        assert_eq!(export.verify_scoped(record, "records.csv", 1_000, &scoped, 10), Err(LinkError::BadSignature));
        assert_eq!(key.verify_scoped(record, "user_data.json", 1_000, &scoped, 10), Err(LinkError::BadSignature));
        assert_eq!(export.verify(record, 1_000, &scoped, 10), Err(LinkError::BadSignature));
        assert_eq!(export.verify_scoped(record, "user_data.json", 1_000, &scoped, 1_001), Err(LinkError::Expired));
        // The link key is not the secret itself.
        assert_ne!(&key.key[..], &b"a-secret-of-some-length-000000000"[..32]);
    }
}
