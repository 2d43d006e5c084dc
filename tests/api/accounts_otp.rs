//! One-time codes end to end, against a fake SMS gateway on a loopback port.

use corpus_te::auth::otp::hash_code;
use serde_json::{Value, json};

use crate::helpers::{
    TEST_SECRET, TestApp,
    accounts::PASSWORD,
    logs, send,
    sms::{FakeSms, OZONETEL_OK},
};

async fn app_with_sms() -> (TestApp, FakeSms) {
    let sms = FakeSms::start().await;
    let app = TestApp::spawn_with(|c| sms.configure_ozonetel(c)).await;
    (app, sms)
}

fn random_phone() -> String {
    format!("+918{:09}", rand::random::<u32>() % 1_000_000_000)
}

#[tokio::test]
async fn send_and_verify_otp_end_to_end_with_the_originals_form_fields() {
    let (app, sms) = app_with_sms().await;
    let user = app.contributor().await;
    let national = user.phone.strip_prefix("+91").unwrap().to_owned();
    let (status, body) = send(app.post("/api/v1/auth/send-otp").json(&json!({"phone_number": national}))).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, json!({"status": "success", "message": "OTP sent successfully", "reference_id": "ref-123"}));

    let requests = sms.requests();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request.content_type, "application/x-www-form-urlencoded");
    let code = sms.last_code(&user.phone);
    let expected = [
        ("userName", "corpus-user".to_owned()),
        ("entityId", "entity-1".to_owned()),
        ("templateId", "template-1".to_owned()),
        ("destinationNumber", user.phone.trim_start_matches('+').to_owned()),
        ("smsText", format!("Your OTP is {code}. Valid for 5 minutes.")),
        ("apiKey", "api-key-1".to_owned()),
        ("smsType", "0".to_owned()),
        ("senderId", "SWECHA".to_owned()),
    ];
    for (name, value) in expected {
        assert_eq!(request.field(name), Some(value.as_str()), "{name}");
    }
    let (stored, attempts, reference): (String, i32, Option<String>) =
        sqlx::query_as("SELECT otp_hash, attempts, reference_id FROM otp WHERE phone_number = $1")
            .bind(&user.phone)
            .fetch_one(app.pool())
            .await
            .unwrap();
    assert_eq!(stored, hash_code(&user.phone, TEST_SECRET, &code), "stored as the original's HMAC");
    assert_eq!((attempts, reference.as_deref()), (0, Some("ref-123")));

    let wrong = if code == "000000" { "111111" } else { "000000" };
    let (status, body) =
        send(app.post("/api/v1/auth/verify-otp").json(&json!({"phone_number": user.phone, "otp_code": wrong}))).await;
    assert_eq!((status, body), (400, json!({"detail": "Invalid or expired OTP"})));
    let (status, body) = send(
        app.post("/api/v1/auth/verify-otp")
            .json(&json!({"phone_number": national, "otp_code": code, "has_given_consent": true})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "bearer");
    assert_eq!(body["user_id"], user.id.to_string());
    assert_eq!(body["phone_number"], user.phone);
    assert_eq!(body["roles"][0]["name"], "user");
    assert_eq!(body["user"]["id"], user.id.to_string());
    let (status, _) = send(app.get("/api/v1/auth/me").bearer_auth(body["access_token"].as_str().unwrap())).await;
    assert_eq!(status, 200);
    // A code is spent by its first successful use.
    let (status, _) =
        send(app.post("/api/v1/auth/verify-otp").json(&json!({"phone_number": user.phone, "otp_code": code}))).await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn the_fourth_attempt_fails_even_with_the_right_code() {
    let (app, sms) = app_with_sms().await;
    let user = app.contributor().await;
    let (status, _) = send(app.post("/api/v1/auth/login/send-otp").json(&json!({"phone_number": user.phone}))).await;
    assert_eq!(status, 200);
    let code = sms.last_code(&user.phone);
    let wrong = if code == "000000" { "111111" } else { "000000" };
    for _ in 0..3 {
        let (status, _) = send(
            app.post("/api/v1/auth/login/verify-otp").json(&json!({"phone_number": user.phone, "otp_code": wrong})),
        )
        .await;
        assert_eq!(status, 400);
    }
    let (status, body) =
        send(app.post("/api/v1/auth/login/verify-otp").json(&json!({"phone_number": user.phone, "otp_code": code})))
            .await;
    assert_eq!((status, body), (400, json!({"detail": "Invalid or expired OTP"})));
}

#[tokio::test]
async fn the_third_attempt_may_be_the_right_one_and_expired_codes_fail() {
    let (app, sms) = app_with_sms().await;
    let user = app.contributor().await;
    send(app.post("/api/v1/auth/send-otp").json(&json!({"phone_number": user.phone}))).await;
    let code = sms.last_code(&user.phone);
    let wrong = if code == "000000" { "111111" } else { "000000" };
    for _ in 0..2 {
        send(app.post("/api/v1/auth/verify-otp").json(&json!({"phone_number": user.phone, "otp_code": wrong}))).await;
    }
    let (status, body) =
        send(app.post("/api/v1/auth/login/verify-otp").json(&json!({"phone_number": user.phone, "otp_code": code})))
            .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["user"]["roles"][0]["name"], "user");

    let other = app.contributor().await;
    send(app.post("/api/v1/auth/send-otp").json(&json!({"phone_number": other.phone}))).await;
    let code = sms.last_code(&other.phone);
    sqlx::query("UPDATE otp SET expires_at = now() - interval '1 second' WHERE phone_number = $1")
        .bind(&other.phone)
        .execute(app.pool())
        .await
        .unwrap();
    let (status, _) =
        send(app.post("/api/v1/auth/verify-otp").json(&json!({"phone_number": other.phone, "otp_code": code}))).await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn a_second_send_within_a_minute_gets_429() {
    let (app, sms) = app_with_sms().await;
    let user = app.contributor().await;
    let (status, _) = send(app.post("/api/v1/auth/send-otp").json(&json!({"phone_number": user.phone}))).await;
    assert_eq!(status, 200);
    for path in ["/api/v1/auth/send-otp", "/api/v1/auth/resend-otp", "/api/v1/auth/forgot-password"] {
        let (status, body) = send(app.post(path).json(&json!({"phone_number": user.phone}))).await;
        assert_eq!((status, body), (429, json!({"detail": "Rate limit exceeded. Please try again later."})), "{path}");
    }
    assert_eq!(sms.requests().len(), 1, "nothing more was sent");
}

#[tokio::test]
async fn resend_retires_older_codes_only_once_the_new_sms_went_out() {
    let sms = FakeSms::start().await;
    let app = TestApp::spawn_with(|c| {
        sms.configure_ozonetel(c);
        c.otp.otp_rate_limit_minutes = 0;
    })
    .await;
    let user = app.contributor().await;
    send(app.post("/api/v1/auth/send-otp").json(&json!({"phone_number": user.phone}))).await;
    let first = sms.last_code(&user.phone);

    // The gateway refuses: the resend fails with a gateway error, and the first code still works.
    sms.reply_with(200, r#"{"status":"failure","message":"Invalid Apikey and UserName"}"#);
    let (status, body) = send(app.post("/api/v1/auth/resend-otp").json(&json!({"phone_number": user.phone}))).await;
    assert_eq!(
        (status, body),
        (502, json!({"detail": "Failed to resend OTP: Failed to send OTP. Please try again later."}))
    );
    sms.reply_with(200, "ERROR: bad api key");
    let (status, _) = send(app.post("/api/v1/auth/resend-otp").json(&json!({"phone_number": user.phone}))).await;
    assert_eq!(status, 502, "error bodies are failures, whatever their length");
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM otp WHERE phone_number = $1")
        .bind(&user.phone)
        .fetch_one(app.pool())
        .await
        .unwrap();
    assert_eq!(rows, 1, "failed sends store nothing");

    sms.reply_with(200, OZONETEL_OK);
    let (status, body) = send(app.post("/api/v1/auth/resend-otp").json(&json!({"phone_number": user.phone}))).await;
    assert_eq!(status, 200);
    assert_eq!(body["message"], "OTP resent successfully");
    let second = sms.last_code(&user.phone);
    if first != second {
        let (status, _) =
            send(app.post("/api/v1/auth/verify-otp").json(&json!({"phone_number": user.phone, "otp_code": first})))
                .await;
        assert_eq!(status, 400, "the older code was retired");
    }
    let (status, _) =
        send(app.post("/api/v1/auth/verify-otp").json(&json!({"phone_number": user.phone, "otp_code": second}))).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn send_otp_answers_the_originals_errors_and_422_for_bad_phones() {
    let (app, _sms) = app_with_sms().await;
    let (status, body) = send(app.post("/api/v1/auth/send-otp").json(&json!({"phone_number": "+15550001111"}))).await;
    assert_eq!((status, body), (404, json!({"detail": "User with this phone number does not exist"})));
    let user = app.contributor().await;
    sqlx::query(r#"UPDATE "user" SET is_active = false WHERE id = $1"#)
        .bind(user.id)
        .execute(app.pool())
        .await
        .unwrap();
    let response = app.post("/api/v1/auth/send-otp").json(&json!({"phone_number": user.phone})).send().await.unwrap();
    assert!(response.headers().get("www-authenticate").is_none());
    let (status, body) = crate::helpers::json(response).await;
    assert_eq!((status, body), (401, json!({"detail": "User account is inactive"})));
    for bad in ["00919000000001", "+0123", "91900000000", "abc"] {
        let (status, body) = send(app.post("/api/v1/auth/send-otp").json(&json!({"phone_number": bad}))).await;
        assert_eq!(status, 422, "{bad}: {body}");
        assert_eq!(body["errors"][0]["loc"], json!(["body", "phone_number"]));
        assert_eq!(body["errors"][0]["type"], "value_error");
    }
    let (status, body) =
        send(app.post("/api/v1/auth/verify-otp").json(&json!({"phone_number": user.phone, "otp_code": "12"}))).await;
    assert_eq!(status, 422);
    assert_eq!(body["errors"][0]["loc"], json!(["body", "otp_code"]));
}

#[tokio::test]
async fn a_legacy_raw_phone_can_log_in_by_code() {
    let (app, sms) = app_with_sms().await;
    sqlx::query(
        r#"INSERT INTO "user" (id, phone, name, is_active, created_at, updated_at)
           VALUES (gen_random_uuid(), '9000000007', 'Legacy', true, now(), now())"#,
    )
    .execute(app.pool())
    .await
    .unwrap();
    let (status, _) = send(app.post("/api/v1/auth/send-otp").json(&json!({"phone_number": "9000000007"}))).await;
    assert_eq!(status, 200);
    let code = sms.last_code("+919000000007");
    let (status, body) =
        send(app.post("/api/v1/auth/verify-otp").json(&json!({"phone_number": "+919000000007", "otp_code": code})))
            .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["phone_number"], "9000000007");
    assert_eq!(body["user"]["has_given_consent"], true, "consent recorded at verification");
}

#[tokio::test]
async fn sign_up_by_code_creates_a_user_account_with_consent_and_no_password() {
    let (app, sms) = app_with_sms().await;
    let phone = random_phone();
    let (status, body) = send(app.post("/api/v1/auth/signup/send-otp").json(&json!({"phone_number": phone}))).await;
    assert_eq!(status, 200, "{body}");
    let code = sms.last_code(&phone);
    // A sign-up code is no login code.
    let (status, _) =
        send(app.post("/api/v1/auth/verify-otp").json(&json!({"phone_number": phone, "otp_code": code}))).await;
    assert_eq!(status, 400);
    let body = json!({"phone_number": phone, "otp_code": code, "name": "Ravi", "email": "ravi@example.org", "has_given_consent": false});
    let (status, answer) = send(app.post("/api/v1/auth/signup/verify-otp").json(&body)).await;
    assert_eq!((status, answer), (400, json!({"detail": "User consent is required to create an account"})));
    let mut body = body;
    body["has_given_consent"] = json!(true);
    body["password"] = json!("");
    let (status, answer) = send(app.post("/api/v1/auth/signup/verify-otp").json(&body)).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["phone_number"], phone);
    assert_eq!(
        answer["roles"],
        json!([{"name": "user", "description": "Standard user role with basic access", "id": 2}])
    );
    assert_eq!(answer["user"]["has_given_consent"], true);
    assert!(answer["user"]["consent_given_at"].is_string());
    let hash: Option<String> = sqlx::query_scalar(r#"SELECT hashed_password FROM "user" WHERE phone = $1"#)
        .bind(&phone)
        .fetch_one(app.pool())
        .await
        .unwrap();
    assert!(hash.is_none(), "a contributor never needs a password");
    let (status, _) = send(app.get("/api/v1/auth/me").bearer_auth(answer["access_token"].as_str().unwrap())).await;
    assert_eq!(status, 200);
    let (status, answer) = send(app.post("/api/v1/auth/signup/send-otp").json(&json!({"phone_number": phone}))).await;
    assert_eq!((status, answer), (409, json!({"detail": format!("Phone '{phone}' already exists")})));
    let (status, _) = send(app.post("/api/v1/auth/login").json(&json!({"phone": phone, "password": "anything"}))).await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn forgot_password_resets_with_a_code_and_revokes_older_tokens() {
    let sms = FakeSms::start().await;
    let app = TestApp::spawn_with(|c| {
        sms.configure_ozonetel(c);
        c.otp.otp_rate_limit_minutes = 0;
    })
    .await;
    let user = app.contributor().await;
    // A login code cannot reset a password.
    send(app.post("/api/v1/auth/send-otp").json(&json!({"phone_number": user.phone}))).await;
    let login_code = sms.last_code(&user.phone);
    let (status, _) = send(
        app.post("/api/v1/auth/forgot-password/verify")
            .json(&json!({"phone_number": user.phone, "otp_code": login_code, "new_password": "recovered-1"})),
    )
    .await;
    assert_eq!(status, 400);
    let (status, body) =
        send(app.post("/api/v1/auth/forgot-password").json(&json!({"phone_number": user.phone}))).await;
    assert_eq!(status, 200, "{body}");
    let code = sms.last_code(&user.phone);
    let (status, body) = send(
        app.post("/api/v1/auth/forgot-password/verify")
            .json(&json!({"phone_number": user.phone, "otp_code": code, "new_password": "recovered-1"})),
    )
    .await;
    assert_eq!((status, body), (200, json!({"message": "Password reset successfully"})));
    let (status, _) = send(app.get("/api/v1/auth/me").header("authorization", user.bearer())).await;
    assert_eq!(status, 401);
    let (status, _) =
        send(app.post("/api/v1/auth/login").json(&json!({"phone": user.phone, "password": "recovered-1"}))).await;
    assert_eq!(status, 200);
    let (status, _) =
        send(app.post("/api/v1/auth/login").json(&json!({"phone": user.phone, "password": PASSWORD}))).await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn the_webhook_provider_posts_json() {
    let sms = FakeSms::start().await;
    let app = TestApp::spawn_with(|c| sms.configure_webhook(c)).await;
    let user = app.contributor().await;
    sms.reply_with(202, "");
    let (status, body) = send(app.post("/api/v1/auth/send-otp").json(&json!({"phone_number": user.phone}))).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["reference_id"], Value::Null);
    let request = &sms.requests()[0];
    assert_eq!(request.content_type, "application/json");
    assert_eq!(request.field("phone_number"), Some(user.phone.as_str()));
    let code = request.field("code").unwrap().to_owned();
    assert!(request.field("message").unwrap().contains(&code));
    sms.reply_with(500, "boom");
}

#[tokio::test]
async fn sends_are_limited_per_client_address() {
    let (sms, limit) = (FakeSms::start().await, 2);
    let app = TestApp::spawn_with(|c| {
        sms.configure_ozonetel(c);
        c.otp.otp_ip_limit_per_hour = limit;
    })
    .await;
    for i in 0..=limit {
        let user = app.contributor().await;
        let (status, _) = send(app.post("/api/v1/auth/send-otp").json(&json!({"phone_number": user.phone}))).await;
        assert_eq!(status, if i < limit { 200 } else { 429 }, "send {i}");
    }
}

#[tokio::test]
async fn with_redis_the_limits_live_in_redis_under_the_key_prefix() {
    // The shared Redis of the test machine (scripts/setup.sh starts it). Its absence fails the
    // test: a skipped test would pass without checking anything.
    let url = "redis://127.0.0.1:6379";
    let client = redis::Client::open(url).unwrap();
    let mut conn = tokio::time::timeout(std::time::Duration::from_secs(10), client.get_multiplexed_async_connection())
        .await
        .unwrap_or_else(|_| panic!("Redis at {url} did not answer within 10 s (run scripts/setup.sh)"))
        .unwrap_or_else(|e| panic!("Redis at {url} is needed by this test (run scripts/setup.sh): {e}"));
    let prefix = format!("corpus-test-{}:", uuid::Uuid::new_v4().simple());
    let sms = FakeSms::start().await;
    let app = TestApp::spawn_with(|c| {
        sms.configure_ozonetel(c);
        c.limits.redis_url = Some(url.into());
        c.limits.redis_key_prefix = prefix.clone();
        c.otp.otp_ip_limit_per_hour = 1;
    })
    .await;
    let a = app.contributor().await;
    let b = app.contributor().await;
    let (status, _) = send(app.post("/api/v1/auth/send-otp").json(&json!({"phone_number": a.phone}))).await;
    assert_eq!(status, 200);
    let (status, _) = send(app.post("/api/v1/auth/send-otp").json(&json!({"phone_number": b.phone}))).await;
    assert_eq!(status, 429);
    let keys: Vec<String> = redis::cmd("KEYS").arg(format!("{prefix}*")).query_async(&mut conn).await.unwrap();
    assert!(keys.iter().any(|k| k == &format!("{prefix}otp:ip:127.0.0.1")), "{keys:?}");
    assert!(keys.iter().any(|k| k == &format!("{prefix}otp:phone:{}", a.phone)), "{keys:?}");
    let ttl: i64 = redis::cmd("TTL").arg(format!("{prefix}otp:ip:127.0.0.1")).query_async(&mut conn).await.unwrap();
    assert!(ttl > 0 && ttl <= 3600);
    let _: () = redis::cmd("DEL").arg(&keys).query_async(&mut conn).await.unwrap();
}

#[tokio::test]
async fn logs_never_contain_codes_passwords_tokens_or_full_phone_numbers() {
    let (app, sms) = app_with_sms().await;
    let user = app.contributor().await;
    let (_, login) =
        send(app.post("/api/v1/auth/login").json(&json!({"phone": user.phone, "password": PASSWORD}))).await;
    let login_token = login["access_token"].as_str().unwrap().to_owned();
    send(
        app.post("/api/v1/auth/change-password")
            .bearer_auth(&login_token)
            .json(&json!({"current_password": PASSWORD, "new_password": "changed-pass-9"})),
    )
    .await;
    send(app.post("/api/v1/auth/send-otp").json(&json!({"phone_number": user.phone}))).await;
    let code = sms.last_code(&user.phone);
    send(app.post("/api/v1/auth/verify-otp").json(&json!({"phone_number": user.phone, "otp_code": "999999"}))).await;
    let (status, verified) =
        send(app.post("/api/v1/auth/verify-otp").json(&json!({"phone_number": user.phone, "otp_code": code}))).await;
    let phone = random_phone();
    send(app.post("/api/v1/auth/signup/send-otp").json(&json!({"phone_number": phone}))).await;
    let signup_code = sms.last_code(&phone);
    let (_, signup) = send(app.post("/api/v1/auth/signup/verify-otp").json(&json!({"phone_number": phone, "otp_code": signup_code, "name": "N", "password": "signup-pass-7", "has_given_consent": true}))).await;
    let log = logs::captured();
    assert!(!log.is_empty(), "the app logged something");
    let secrets = [
        code.clone(),
        signup_code.clone(),
        PASSWORD.to_owned(),
        "changed-pass-9".to_owned(),
        "signup-pass-7".to_owned(),
        user.token.clone(),
        login_token,
        verified["access_token"].as_str().unwrap_or("-").to_owned(),
        signup["access_token"].as_str().unwrap_or("-").to_owned(),
        user.phone.clone(),
        phone.clone(),
    ];
    assert_eq!(status, 200);
    for secret in secrets {
        assert!(!log.contains(&secret), "the log contains a secret: {}…", &secret[..secret.len().min(4)]);
    }
}
