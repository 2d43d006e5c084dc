//! Access tokens: JWT HS256 with `sub` (user id), `iat` and `exp`. Only HS256 is accepted, and a
//! token without `exp` is refused (the original accepted those forever).

use chrono::Utc;
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
    /// Issued at, seconds since the epoch.
    pub iat: i64,
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
        let now = Utc::now().timestamp();
        let claims = Claims { exp: now + self.lifetime_minutes * 60, sub: user_id.to_string(), iat: now };
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
        let claims = keys().verify(&keys().issue(id).unwrap()).unwrap();
        assert_eq!(claims.sub, id.to_string());
        assert_eq!(claims.exp - claims.iat, 3600);
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
            &Claims { exp: now + 60, sub: Uuid::new_v4().to_string(), iat: now },
            &EncodingKey::from_secret(secret.as_bytes()),
        )
        .unwrap();
        assert!(keys().verify(&hs512).is_err());
    }
}
