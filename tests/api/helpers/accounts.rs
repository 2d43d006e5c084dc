//! Arranging accounts directly in the database, and tokens for them.

use corpus_te::auth::{password, token::TokenKeys};
use uuid::Uuid;

use super::TestApp;

/// Password every arranged account has.
pub const PASSWORD: &str = "test-password-1";

/// An account made for a test.
#[derive(Debug, Clone)]
pub struct TestUser {
    /// User id.
    pub id: Uuid,
    /// Phone (E.164).
    pub phone: String,
    /// A valid access token.
    pub token: String,
}

impl TestUser {
    /// `Authorization` header value.
    pub fn bearer(&self) -> String {
        format!("Bearer {}", self.token)
    }
}

fn random_phone() -> String {
    // +91 followed by a 10-digit mobile number starting with 9.
    format!("+919{:09}", rand::random::<u32>() % 1_000_000_000)
}

impl TestApp {
    /// Token keys the app signs with.
    pub fn token_keys(&self) -> TokenKeys {
        TokenKeys::new(&self.config.secret(), self.config.security.access_token_expire_minutes)
    }

    /// Creates an active user with consent, password [`PASSWORD`] and the given role names.
    pub async fn create_user(&self, roles: &[&str]) -> TestUser {
        let phone = random_phone();
        // Hashing once per test process keeps tests that make many accounts fast.
        static HASH: tokio::sync::OnceCell<String> = tokio::sync::OnceCell::const_new();
        let hash = HASH.get_or_init(|| async { password::hash(PASSWORD.to_owned()).await.unwrap() }).await;
        let id: Uuid = sqlx::query_scalar(
            r#"INSERT INTO "user" (id, phone, name, hashed_password, is_active, has_given_consent, consent_given_at)
               VALUES (gen_random_uuid(), $1, $2, $3, true, true, now()) RETURNING id"#,
        )
        .bind(&phone)
        .bind(format!("Test {}", &phone[phone.len() - 4..]))
        .bind(hash)
        .fetch_one(self.pool())
        .await
        .unwrap();
        for role in roles {
            sqlx::query("INSERT INTO user_roles (user_id, role_id) SELECT $1, id FROM role WHERE name::text = $2")
                .bind(id)
                .bind(role)
                .execute(self.pool())
                .await
                .unwrap();
        }
        let token = self.token_keys().issue(id).unwrap();
        TestUser { id, phone, token }
    }

    /// An admin.
    pub async fn admin(&self) -> TestUser {
        self.create_user(&["admin"]).await
    }

    /// A reviewer.
    pub async fn reviewer(&self) -> TestUser {
        self.create_user(&["reviewer"]).await
    }

    /// A contributor (role `user`).
    pub async fn contributor(&self) -> TestUser {
        self.create_user(&["user"]).await
    }
}
