//! Access tokens: JWT HS256 with `sub` (user id), `iat` and `exp`. Only HS256 is accepted, and a
//! token without `exp` is refused (the original accepted those forever).

use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The claims of an access token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    /// Expiry, seconds since the epoch.
    pub exp: i64,
    /// Subject: the user id.
    pub sub: String,
    /// Issued at, seconds since the epoch with microseconds (a JWT NumericDate may be
    /// fractional), so a password change revokes even a token issued a moment before it. Tokens
    /// of the original service carry none; they stay valid until a revocation or their expiry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<f64>,
}

impl Claims {
    /// True when the token was issued before `instant` (a token without `iat` always was).
    pub fn issued_before(&self, instant: DateTime<Utc>) -> bool {
        match self.iat {
            Some(iat) => iat < instant.timestamp_micros() as f64 / 1e6,
            None => true,
        }
    }
}

/// Signs and checks access tokens with one secret.
#[derive(Clone)]
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    lifetime_minutes: i64,
}

impl std::fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenKeys").field("lifetime_minutes", &self.lifetime_minutes).finish_non_exhaustive()
    }
}

impl TokenKeys {
    /// Keys for `secret`; tokens live `lifetime_minutes`.
    pub fn new(secret: &SecretString, lifetime_minutes: i64) -> Self {
        let bytes = secret.expose_secret().as_bytes();
        Self { encoding: EncodingKey::from_secret(bytes), decoding: DecodingKey::from_secret(bytes), lifetime_minutes }
    }

    /// Issues a token for `user_id`.
    pub fn issue(&self, user_id: Uuid) -> anyhow::Result<String> {
        let now = Utc::now();
        let claims = Claims {
            exp: now.timestamp() + self.lifetime_minutes * 60,
            sub: user_id.to_string(),
            iat: Some(now.timestamp_micros() as f64 / 1e6),
        };
        Ok(jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)?)
    }

    /// Checks signature, algorithm and expiry; returns the claims.
    pub fn verify(&self, token: &str) -> Result<Claims, jsonwebtoken::errors::Error> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_required_spec_claims(&["exp", "sub"]);
        validation.leeway = 0;
        Ok(jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation)?.claims)
    }

    /// Token lifetime in minutes.
    pub fn lifetime_minutes(&self) -> i64 {
        self.lifetime_minutes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> TokenKeys {
        TokenKeys::new(&SecretString::from("k".repeat(32)), 60)
    }

    #[test]
    fn issued_tokens_verify() {
        let id = Uuid::new_v4();
        let before = Utc::now();
        let claims = keys().verify(&keys().issue(id).unwrap()).unwrap();
        let after = Utc::now();
        assert_eq!(claims.sub, id.to_string());
        assert_eq!(claims.exp - claims.iat.unwrap() as i64, 3600);
        assert!(!claims.issued_before(before), "issued at or after `before`");
        assert!(claims.issued_before(after + chrono::Duration::microseconds(1)));
    }

    #[test]
    fn tokens_of_the_original_without_iat_verify_and_count_as_issued_before_any_revocation() {
        #[derive(Serialize)]
        struct Original {
            exp: i64,
            sub: String,
        }
        let secret = "k".repeat(32);
        let token = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &Original { exp: Utc::now().timestamp() + 600, sub: Uuid::new_v4().to_string() },
            &EncodingKey::from_secret(secret.as_bytes()),
        )
        .unwrap();
        let claims = keys().verify(&token).unwrap();
        assert!(claims.iat.is_none());
        assert!(claims.issued_before(Utc::now()));
    }

    #[test]
    fn tokens_without_exp_or_with_other_algorithms_are_refused() {
        let secret = "k".repeat(32);
        #[derive(Serialize)]
        struct NoExp {
            sub: String,
        }
        let no_exp = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &NoExp { sub: Uuid::new_v4().to_string() },
            &EncodingKey::from_secret(secret.as_bytes()),
        )
        .unwrap();
        assert!(keys().verify(&no_exp).is_err());
        let now = Utc::now().timestamp();
        let hs512 = jsonwebtoken::encode(
            &Header::new(Algorithm::HS512),
            &Claims { exp: now + 60, sub: Uuid::new_v4().to_string(), iat: Some(now as f64) },
            &EncodingKey::from_secret(secret.as_bytes()),
        )
        .unwrap();
        assert!(keys().verify(&hs512).is_err());
    }
}
