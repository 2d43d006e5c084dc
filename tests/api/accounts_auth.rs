//! Password authentication, tokens and their revocation.

use chrono::Utc;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;
use uuid::Uuid;

use crate::helpers::{TEST_SECRET, TestApp, accounts::PASSWORD, send};

fn national(phone: &str) -> &str {
    phone.strip_prefix("+91").unwrap()
}

#[tokio::test]
async fn login_answers_a_token_and_the_user_with_roles_for_any_phone_form() {
    let app = TestApp::spawn().await;
    let user = app.contributor().await;
    for form in [user.phone.clone(), national(&user.phone).to_owned(), format!("91{}", national(&user.phone))] {
        let (status, body) =
            send(app.post("/api/v1/auth/login").json(&json!({"phone": form, "password": PASSWORD}))).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["token_type"], "bearer");
        assert_eq!(body["user"]["id"], user.id.to_string());
        assert_eq!(
            body["user"]["roles"],
            json!([{"name": "user", "description": "Standard user role with basic access", "id": 2}])
        );
        assert!(body["user"].get("hashed_password").is_none());
        let token = body["access_token"].as_str().unwrap();
        let (status, me) = send(app.get("/api/v1/auth/me").bearer_auth(token)).await;
        assert_eq!(status, 200, "{me}");
        assert_eq!(me["phone"], user.phone);
        assert_eq!(me["roles"][0]["name"], "user");
        assert!(me["last_login_at"].as_str().unwrap().ends_with('Z'));
    }
}

#[tokio::test]
async fn a_user_carried_over_from_the_original_logs_in_and_is_rehashed() {
    let app = TestApp::spawn().await;
    // As the original stored it: the phone as typed and a bcrypt $2b$ hash of cost 12.
    let legacy = bcrypt::hash_with_result("admin123", 12).unwrap().format_for_version(bcrypt::Version::TwoB);
    assert!(legacy.starts_with("$2b$12$") && legacy.len() == 60);
    let id: Uuid = sqlx::query_scalar(
        r#"INSERT INTO "user" (id, phone, name, hashed_password, is_active, created_at, updated_at)
           VALUES (gen_random_uuid(), '9000000003', 'Legacy', $1, true, now(), now()) RETURNING id"#,
    )
    .bind(&legacy)
    .fetch_one(app.pool())
    .await
    .unwrap();
    sqlx::query("INSERT INTO user_roles (user_id, role_id) VALUES ($1, 2)").bind(id).execute(app.pool()).await.unwrap();

    let (status, body) =
        send(app.post("/api/v1/auth/login").json(&json!({"phone": "9000000003", "password": "admin123"}))).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["user"]["phone"], "9000000003");
    let stored: String = sqlx::query_scalar(r#"SELECT hashed_password FROM "user" WHERE id = $1"#)
        .bind(id)
        .fetch_one(app.pool())
        .await
        .unwrap();
    assert!(stored.starts_with("$argon2id$"), "rehashed at login");
    // The E.164 form finds the raw phone too, and the new hash verifies.
    let (status, _) =
        send(app.post("/api/v1/auth/login").json(&json!({"phone": "+91 90000 00003", "password": "admin123"}))).await;
    assert_eq!(status, 200);
    let (status, _) =
        send(app.post("/api/v1/auth/login").json(&json!({"phone": "9000000003", "password": "admin124"}))).await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn wrong_password_unknown_phone_and_inactive_user_get_401() {
    let app = TestApp::spawn().await;
    let user = app.contributor().await;
    let response =
        app.post("/api/v1/auth/login").json(&json!({"phone": user.phone, "password": "nope"})).send().await.unwrap();
    assert_eq!(response.headers()["www-authenticate"], "Bearer");
    let (status, body) = crate::helpers::json(response).await;
    assert_eq!((status, body), (401, json!({"detail": "Incorrect phone number or password"})));
    let (status, body) =
        send(app.post("/api/v1/auth/login").json(&json!({"phone": "+15551234567", "password": "x"}))).await;
    assert_eq!((status, body), (401, json!({"detail": "Incorrect phone number or password"})));
    sqlx::query(r#"UPDATE "user" SET is_active = false WHERE id = $1"#)
        .bind(user.id)
        .execute(app.pool())
        .await
        .unwrap();
    let (status, body) =
        send(app.post("/api/v1/auth/login").json(&json!({"phone": user.phone, "password": PASSWORD}))).await;
    assert_eq!((status, body), (401, json!({"detail": "Inactive user"})));
    let (status, body) = send(app.post("/api/v1/auth/login").json(&json!({"phone": "", "password": ""}))).await;
    assert_eq!(status, 422);
    assert_eq!(body["errors"][0]["loc"], json!(["body", "phone"]));
}

#[tokio::test]
async fn repeated_wrong_passwords_lock_the_phone_but_successes_do_not_count() {
    let app = TestApp::spawn_with(|c| c.limits.login_max_failures = 3).await;
    let (victim, other) = (app.contributor().await, app.contributor().await);
    let login = |phone: &str, password: &str| {
        send(app.post("/api/v1/auth/login").json(&json!({"phone": phone, "password": password})))
    };
    // Successful logins never add up.
    for _ in 0..5 {
        assert_eq!(login(&victim.phone, PASSWORD).await.0, 200);
    }
    for _ in 0..3 {
        assert_eq!(login(&victim.phone, "guess").await.0, 401);
    }
    let (status, body) = login(&victim.phone, "guess").await;
    assert_eq!((status, body), (429, json!({"detail": "Too many failed login attempts. Please try again later."})));
    // Locked even with the right password, in any phone form; other accounts are unaffected.
    assert_eq!(login(&victim.phone, PASSWORD).await.0, 429);
    assert_eq!(login(victim.phone.trim_start_matches("+91"), PASSWORD).await.0, 429);
    assert_eq!(login(&other.phone, PASSWORD).await.0, 200);
}

#[tokio::test]
async fn refresh_issues_a_new_token_for_any_authenticated_user() {
    let app = TestApp::spawn().await;
    let nobody = app.create_user(&[]).await;
    let (status, body) = send(app.post("/api/v1/auth/refresh").header("authorization", nobody.bearer())).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "bearer");
    let (status, _) = send(app.get("/api/v1/auth/me").bearer_auth(body["access_token"].as_str().unwrap())).await;
    assert_eq!(status, 200);
    let (status, body) = send(app.post("/api/v1/auth/refresh")).await;
    assert_eq!((status, body), (403, json!({"detail": "Not authenticated"})));
}

#[tokio::test]
async fn changing_the_password_revokes_older_tokens() {
    let app = TestApp::spawn().await;
    let user = app.contributor().await;
    let path = "/api/v1/auth/change-password";
    let (status, body) = send(
        app.post(path)
            .header("authorization", user.bearer())
            .json(&json!({"current_password": "wrong", "new_password": "brand-new-1"})),
    )
    .await;
    assert_eq!((status, body), (400, json!({"detail": "Incorrect current password"})));
    let (status, body) = send(
        app.post(path)
            .header("authorization", user.bearer())
            .json(&json!({"current_password": PASSWORD, "new_password": "short"})),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    let (status, body) = send(
        app.post(path)
            .header("authorization", user.bearer())
            .json(&json!({"current_password": PASSWORD, "new_password": "brand-new-1"})),
    )
    .await;
    assert_eq!((status, body), (200, json!({"message": "Password changed successfully"})));
    let (status, body) = send(app.get("/api/v1/auth/me").header("authorization", user.bearer())).await;
    assert_eq!((status, body), (401, json!({"detail": "Could not validate credentials"})));
    let (status, _) =
        send(app.post("/api/v1/auth/login").json(&json!({"phone": user.phone, "password": PASSWORD}))).await;
    assert_eq!(status, 401);
    let (status, body) =
        send(app.post("/api/v1/auth/login").json(&json!({"phone": user.phone, "password": "brand-new-1"}))).await;
    assert_eq!(status, 200);
    let (status, _) = send(app.get("/api/v1/auth/me").bearer_auth(body["access_token"].as_str().unwrap())).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn a_user_cannot_reset_another_users_password_and_an_admin_can() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let victim = app.admin().await;
    let attacker = app.contributor().await;
    let nobody = app.create_user(&[]).await;
    let path = "/api/v1/auth/reset-password";
    let body = json!({"phone": victim.phone, "new_password": "taken-over"});
    for (caller, roles) in [(&attacker, "['user']"), (&nobody, "[]")] {
        let (status, answer) = send(app.post(path).header("authorization", caller.bearer()).json(&body)).await;
        assert_eq!(status, 403);
        assert_eq!(answer["detail"], format!("Access denied. Required roles: admin. Your roles: {roles}"));
    }
    let (status, _) =
        send(app.post("/api/v1/auth/login").json(&json!({"phone": victim.phone, "password": "taken-over"}))).await;
    assert_eq!(status, 401, "the password did not change");

    let (status, answer) = send(app.post(path).header("authorization", admin.bearer()).json(&body)).await;
    assert_eq!((status, answer), (200, json!({"message": "Password reset successfully"})));
    let (status, _) = send(app.get("/api/v1/auth/me").header("authorization", victim.bearer())).await;
    assert_eq!(status, 401, "the reset revokes the user's tokens");
    let (status, _) =
        send(app.post("/api/v1/auth/login").json(&json!({"phone": victim.phone, "password": "taken-over"}))).await;
    assert_eq!(status, 200);
    let (status, answer) = send(
        app.post(path)
            .header("authorization", admin.bearer())
            .json(&json!({"phone": "+15550000000", "new_password": "whatever"})),
    )
    .await;
    assert_eq!((status, answer), (404, json!({"detail": "User not found"})));
}

fn sign(header: Header, claims: &serde_json::Value, secret: &str) -> String {
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_secret(secret.as_bytes())).unwrap()
}

#[tokio::test]
async fn tampered_expired_unsigned_hs512_and_exp_less_tokens_get_401() {
    let app = TestApp::spawn().await;
    let user = app.admin().await;
    let now = Utc::now().timestamp();
    let sub = user.id.to_string();
    let b64 = |v: &serde_json::Value| {
        use base64_like::encode;
        encode(v.to_string().as_bytes())
    };
    let mut tampered = user.token.clone();
    let last = tampered.pop().unwrap();
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    let other_user = {
        // A valid signature over a payload for someone else is still only as good as its signature.
        let parts: Vec<&str> = user.token.split('.').collect();
        format!(
            "{}.{}.{}",
            parts[0],
            b64(&json!({"sub": Uuid::new_v4().to_string(), "exp": now + 600, "iat": now})),
            parts[2]
        )
    };
    let none = format!(
        "{}.{}.",
        b64(&json!({"alg": "none", "typ": "JWT"})),
        b64(&json!({"sub": sub, "exp": now + 600, "iat": now}))
    );
    let cases = [
        ("tampered signature", tampered),
        ("swapped payload", other_user),
        (
            "expired",
            sign(Header::new(Algorithm::HS256), &json!({"sub": sub, "exp": now - 10, "iat": now - 100}), TEST_SECRET),
        ),
        ("alg none", none),
        ("HS512", sign(Header::new(Algorithm::HS512), &json!({"sub": sub, "exp": now + 600, "iat": now}), TEST_SECRET)),
        ("no exp", sign(Header::new(Algorithm::HS256), &json!({"sub": sub, "iat": now}), TEST_SECRET)),
        (
            "other secret",
            sign(Header::new(Algorithm::HS256), &json!({"sub": sub, "exp": now + 600, "iat": now}), "another-secret"),
        ),
        ("garbage", "not.a.token".to_owned()),
    ];
    for (name, token) in cases {
        let response = app.get("/api/v1/auth/me").bearer_auth(&token).send().await.unwrap();
        assert_eq!(response.status(), 401, "{name}");
        assert_eq!(response.headers()["www-authenticate"], "Bearer", "{name}");
        let (_, body) = crate::helpers::json(response).await;
        assert_eq!(body, json!({"detail": "Could not validate credentials"}), "{name}");
    }
    let (status, body) = send(app.get("/api/v1/auth/me")).await;
    assert_eq!((status, body), (403, json!({"detail": "Not authenticated"})));
    let (status, _) = send(app.get("/api/v1/auth/me").header("authorization", user.bearer())).await;
    assert_eq!(status, 200, "the genuine token still works");
}

/// Minimal unpadded base64url, to forge tokens without pulling in another crate.
mod base64_like {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

    pub fn encode(bytes: &[u8]) -> String {
        let mut out = String::new();
        for chunk in bytes.chunks(3) {
            let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
            let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
            for i in 0..=chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            }
        }
        out
    }
}

#[tokio::test]
async fn auth_me_shows_a_login_on_the_next_request_though_the_profile_is_held_in_memory() {
    let app = TestApp::spawn().await;
    let user = app.contributor().await;
    app.until_listening().await;
    let me = || send(app.get("/api/v1/auth/me").bearer_auth(&user.token));
    let (status, before) = me().await;
    assert_eq!(status, 200, "{before}");
    assert!(before["last_login_at"].is_null(), "{before}");
    assert_eq!(before["roles"][0]["name"], "user");

    let (status, body) =
        send(app.post("/api/v1/auth/login").json(&json!({"phone": user.phone, "password": PASSWORD}))).await;
    assert_eq!(status, 200, "{body}");
    let (status, after) = me().await;
    assert_eq!(status, 200, "{after}");
    assert_eq!(after["last_login_at"], body["user"]["last_login_at"], "the login, at once: {after}");
    assert!(!after["last_login_at"].is_null());
}
