//! Smaller security defects, each driven over HTTP (or through the binary): reviewers only
//! review, unpublished categories stay unusable, Range arithmetic, the sign-up code before any
//! e-mail lookup, the production secret length, and the security headers of every answer.

use reqwest::{Method, header};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::{
    helpers::{
        TestApp,
        accounts::TestUser,
        cli::{Run, corpus},
        send,
        sms::FakeSms,
    },
    records_crud::{HYDERABAD, category, create},
    records_upload::multipart,
};

async fn put_record(app: &TestApp, user: &TestUser, id: &str, body: Value) -> (u16, Value) {
    send(app.put(&format!("/api/v1/records/{id}")).header("Authorization", user.bearer()).json(&body)).await
}

#[tokio::test]
async fn a_reviewer_reviews_someone_elses_record_but_cannot_rewrite_it() {
    let app = TestApp::spawn().await;
    let (admin, reviewer, alice) = (app.admin().await, app.reviewer().await, app.contributor().await);
    let cat = category(&app, "stories").await;
    let rec = create(
        &app,
        &alice,
        json!({"title": "అమ్మ", "media_type": "text", "category_id": cat, "metadata": {"device": "phone"},
               "location": {"latitude": HYDERABAD.0, "longitude": HYDERABAD.1}, "language": "te"}),
    )
    .await;
    let id = rec["uid"].as_str().unwrap();

    // Every content field, alone or next to a review, is refused to a reviewer.
    for body in [
        json!({"title": "rewritten"}),
        json!({"metadata": {"device": "forged"}}),
        json!({"metadata": null}),
        json!({"location": {"latitude": 0.0, "longitude": 0.0}}),
        json!({"latitude": 1.0, "longitude": 2.0}),
        json!({"description": "x"}),
        json!({"language": "hindi"}),
        json!({"release_rights": "open"}),
        json!({"media_type": "audio"}),
        json!({"reviewed": true, "status": "approved", "title": "rewritten"}),
    ] {
        let (status, answer) = put_record(&app, &reviewer, id, body.clone()).await;
        assert_eq!(status, 403, "{body} → {answer}");
        assert!(answer["detail"].as_str().unwrap().contains("owner or an admin"), "{answer}");
    }
    let (_, now) = send(app.get(&format!("/api/v1/records/{id}")).header("Authorization", admin.bearer())).await;
    for field in ["title", "metadata", "location", "language", "description", "media_type", "reviewed", "status"] {
        assert_eq!(now[field], rec[field], "{field} unchanged after the refused calls");
    }

    // The review itself goes through, stamped with the reviewer.
    let (status, reviewed) = put_record(&app, &reviewer, id, json!({"reviewed": true, "status": "approved"})).await;
    assert_eq!(status, 200, "{reviewed}");
    assert_eq!(
        (reviewed["reviewed_by"].as_str(), reviewed["status"].as_str()),
        (Some(&*reviewer.id.to_string()), Some("approved"))
    );
    assert_eq!(reviewed["title"], "అమ్మ");

    // A reviewer's own record is theirs to edit; an admin edits anyone's.
    let own = create(&app, &reviewer, json!({"title": "mine", "media_type": "text", "category_id": cat})).await;
    let (status, body) =
        put_record(&app, &reviewer, own["uid"].as_str().unwrap(), json!({"title": "still mine"})).await;
    assert_eq!((status, body["title"].as_str()), (200, Some("still mine")));
    let (status, body) = put_record(&app, &admin, id, json!({"title": "fixed by an admin", "metadata": null})).await;
    assert_eq!((status, body["title"].as_str()), (200, Some("fixed by an admin")));
    assert!(body["metadata"].is_null());
}

#[tokio::test]
async fn records_cannot_be_filed_under_an_unpublished_category_except_by_an_admin() {
    let app = TestApp::spawn().await;
    let (admin, reviewer, alice) = (app.admin().await, app.reviewer().await, app.contributor().await);
    let hidden: Uuid = sqlx::query_scalar(
        "INSERT INTO category (name, title, published) VALUES ('drafts', 'Drafts', false) RETURNING id",
    )
    .fetch_one(app.pool())
    .await
    .unwrap();
    // A contributor cannot read it...
    let (status, _) =
        send(app.get(&format!("/api/v1/categories/{hidden}")).header("Authorization", alice.bearer())).await;
    assert_eq!(status, 404);
    // ...so filing under it answers exactly as for a category that does not exist, for JSON...
    let missing = send(
        app.post("/api/v1/records/")
            .header("Authorization", alice.bearer())
            .json(&json!({"title": "t", "media_type": "text", "category_id": Uuid::new_v4()})),
    )
    .await;
    assert_eq!(missing, (400, json!({"detail": "Category not found"})));
    for user in [&alice, &reviewer] {
        let answer = send(
            app.post("/api/v1/records/")
                .header("Authorization", user.bearer())
                .json(&json!({"title": "t", "media_type": "text", "category_id": hidden})),
        )
        .await;
        assert_eq!(answer, missing);
    }
    // ...and for an upload.
    let (ct, body) = multipart(
        &[("title", "t"), ("category_id", &hidden.to_string()), ("media_type", "text")],
        Some(("file", "కథ.txt", "తెలుగు కథ".as_bytes())),
    );
    let answer = send(
        app.post("/api/v1/records/upload")
            .header("Authorization", alice.bearer())
            .header("Content-Type", ct)
            .body(body),
    )
    .await;
    assert_eq!(answer, missing);
    let records: i64 = sqlx::query_scalar("SELECT count(*) FROM record").fetch_one(app.pool()).await.unwrap();
    assert_eq!(records, 0);
    // Admins see unpublished categories and may prepare records in them.
    let rec = create(&app, &admin, json!({"title": "t", "media_type": "text", "category_id": hidden})).await;
    assert_eq!(rec["category_id"], json!(hidden));
}

/// A record with a stored 10 KiB sample file; returns its id and the file's bytes.
async fn record_with_file(app: &TestApp, owner: &TestUser) -> (String, Vec<u8>) {
    let cat = category(app, "ranges").await;
    let (status, rec) = send(
        app.post("/api/v1/records/?generate_file=true&file_size_kb=10")
            .header("Authorization", owner.bearer())
            .json(&json!({"title": "t", "media_type": "text", "category_id": cat})),
    )
    .await;
    assert_eq!((status, rec["status"].as_str()), (201, Some("generated")), "{rec}");
    let id = rec["uid"].as_str().unwrap().to_owned();
    let whole =
        app.get(&format!("/api/v1/records/{id}/file")).header("Authorization", owner.bearer()).send().await.unwrap();
    assert_eq!(whole.status(), 200);
    (id, whole.bytes().await.unwrap().to_vec())
}

#[tokio::test]
async fn ranges_with_huge_ends_are_clamped_and_huge_starts_are_416() {
    let app = TestApp::spawn().await;
    let owner = app.contributor().await;
    let (id, file) = record_with_file(&app, &owner).await;
    let size = file.len();
    assert_eq!(size, 10 * 1024);
    let get = |range: String| {
        app.get(&format!("/api/v1/records/{id}/file"))
            .header("Authorization", owner.bearer())
            .header("Range", range)
            .send()
    };
    let max = u64::MAX.to_string();
    for (range, start) in [
        (format!("bytes=5-{max}"), 5),
        (format!("bytes=0-{max}"), 0),
        ("bytes=0-99999999999999999999999".to_owned(), 0),
        (format!("bytes=100-{}", size + 100), 100),
        (format!("bytes=-{max}"), 0),
    ] {
        let response = tokio::time::timeout(std::time::Duration::from_secs(30), get(range.clone()))
            .await
            .expect("answers")
            .unwrap();
        assert_eq!(response.status(), 206, "{range}");
        let content_range = response.headers()[header::CONTENT_RANGE].to_str().unwrap().to_owned();
        assert_eq!(content_range, format!("bytes {start}-{}/{size}", size - 1), "{range}");
        assert_eq!(response.headers()[header::CONTENT_LENGTH], (size - start).to_string().as_str(), "{range}");
        assert_eq!(response.bytes().await.unwrap(), file[start..], "{range}");
    }
    for range in [
        format!("bytes={max}-"),
        format!("bytes={size}-"),
        format!("bytes={size}-{max}"),
        "bytes=99999999999999999999999-".into(),
    ] {
        let response = get(range.clone()).await.unwrap();
        assert_eq!(response.status(), 416, "{range}");
        assert_eq!(response.headers()[header::CONTENT_RANGE], format!("bytes */{size}").as_str(), "{range}");
    }
    // A plain range still works.
    let response = get("bytes=2-5".into()).await.unwrap();
    assert_eq!(response.status(), 206);
    assert_eq!(response.bytes().await.unwrap(), file[2..6]);
}

#[tokio::test]
async fn signup_by_code_names_a_registered_email_only_to_the_holder_of_a_valid_code() {
    let sms = FakeSms::start().await;
    let app = TestApp::spawn_with(|c| {
        sms.configure_ozonetel(c);
        c.otp.otp_rate_limit_minutes = 0;
    })
    .await;
    let taken = "taken@example.org";
    let (status, _) = send(app.post("/api/v1/users/").json(&json!({
        "phone": "+919111111111", "name": "Owner", "email": taken, "password": "secret-pass", "has_given_consent": true
    })))
    .await;
    assert_eq!(status, 201);

    // Without a code, a taken e-mail and a free one get the same answer: nothing is revealed.
    let phone = "+919222222222";
    let body = |code: &str, email: &str| json!({"phone_number": phone, "otp_code": code, "name": "New", "email": email, "has_given_consent": true});
    let invalid = (400, json!({"detail": "Invalid or expired OTP"}));
    for email in [taken, "free@example.org"] {
        assert_eq!(send(app.post("/api/v1/auth/signup/verify-otp").json(&body("123456", email))).await, invalid);
    }
    // A registered phone with no code is not named either.
    let registered =
        json!({"phone_number": "+919111111111", "otp_code": "123456", "name": "X", "has_given_consent": true});
    assert_eq!(send(app.post("/api/v1/auth/signup/verify-otp").json(&registered)).await, invalid);

    // With a code: a wrong one is counted, a right one names the taken e-mail (counted, not
    // spent), and the same code then creates the account with another e-mail.
    let (status, _) = send(app.post("/api/v1/auth/signup/send-otp").json(&json!({"phone_number": phone}))).await;
    assert_eq!(status, 200);
    let code = sms.last_code(phone);
    let wrong = if code == "000000" { "111111" } else { "000000" };
    assert_eq!(send(app.post("/api/v1/auth/signup/verify-otp").json(&body(wrong, taken))).await, invalid);
    let (status, answer) = send(app.post("/api/v1/auth/signup/verify-otp").json(&body(&code, taken))).await;
    assert_eq!((status, answer), (409, json!({"detail": format!("Email '{taken}' already exists")})));
    let attempts: i32 = sqlx::query_scalar("SELECT attempts FROM otp WHERE phone_number = $1")
        .bind(phone)
        .fetch_one(app.pool())
        .await
        .unwrap();
    assert_eq!(attempts, 2, "both submissions were counted");
    let (status, answer) = send(app.post("/api/v1/auth/signup/verify-otp").json(&body(&code, "new@example.org"))).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["user"]["email"], "new@example.org");
    // Spent: it creates nothing twice.
    assert_eq!(send(app.post("/api/v1/auth/signup/verify-otp").json(&body(&code, "other@example.org"))).await, invalid);
}

#[tokio::test]
async fn signup_codes_allow_three_submissions_even_when_each_names_a_taken_email() {
    let sms = FakeSms::start().await;
    let app = TestApp::spawn_with(|c| sms.configure_ozonetel(c)).await;
    let mut taken = Vec::new();
    for i in 0..3 {
        let email = format!("user{i}@example.org");
        let (status, _) = send(app.post("/api/v1/users/").json(&json!({
            "phone": format!("+91933333333{i}"), "name": "U", "email": email, "password": "secret-pass", "has_given_consent": true
        })))
        .await;
        assert_eq!(status, 201);
        taken.push(email);
    }
    let phone = "+919444444444";
    send(app.post("/api/v1/auth/signup/send-otp").json(&json!({"phone_number": phone}))).await;
    let code = sms.last_code(phone);
    for email in &taken {
        let body =
            json!({"phone_number": phone, "otp_code": code, "name": "N", "email": email, "has_given_consent": true});
        assert_eq!(send(app.post("/api/v1/auth/signup/verify-otp").json(&body)).await.0, 409);
    }
    // A fourth probe gets nothing: the code's attempts are used up.
    let body = json!({"phone_number": phone, "otp_code": code, "name": "N", "email": "fresh@example.org", "has_given_consent": true});
    assert_eq!(send(app.post("/api/v1/auth/signup/verify-otp").json(&body)).await.0, 400);
}

#[tokio::test]
async fn production_refuses_a_secret_shorter_than_32_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let storage = dir.path().join("data");
    for secret in ["a", "0123456789abcdef0123456789abcde"] {
        let mut cmd = corpus("postgres://postgres@127.0.0.1:5432/postgres", &storage);
        cmd.env("CORPUS_ENV", "production").env("APP_SECRET_KEY", secret).arg("serve");
        let out: Run = cmd.output().unwrap().into();
        assert_ne!(out.code, 0, "{}", out.all());
        assert!(out.stderr.contains("at least 32"), "{}", out.all());
        if secret.len() > 8 {
            assert!(!out.all().contains(secret), "the secret is never printed: {}", out.all());
        }
    }
}

fn assert_security_headers(what: &str, headers: &reqwest::header::HeaderMap) {
    assert_eq!(headers.get("x-content-type-options").map(|v| v.as_bytes()), Some(&b"nosniff"[..]), "{what}");
    assert_eq!(headers.get("referrer-policy").map(|v| v.as_bytes()), Some(&b"no-referrer"[..]), "{what}");
    assert_eq!(headers.get("x-frame-options").map(|v| v.as_bytes()), Some(&b"DENY"[..]), "{what}");
}

#[tokio::test]
async fn every_answer_carries_the_security_headers_and_files_are_sandboxed() {
    let app = TestApp::spawn().await;
    let user = app.contributor().await;
    let cat = category(&app, "headers").await;
    let (ct, body) = multipart(
        &[("title", "పాట"), ("category_id", &cat.to_string()), ("media_type", "text")],
        Some(("file", "తెలుగు కథ.txt", "తెలుగు కథ".as_bytes())),
    );
    let (status, rec) = send(
        app.post("/api/v1/records/upload").header("Authorization", user.bearer()).header("Content-Type", ct).body(body),
    )
    .await;
    assert_eq!(status, 201, "{rec}");
    let file = format!("/api/v1/records/{}/file", rec["uid"].as_str().unwrap());

    let calls: Vec<(&str, reqwest::RequestBuilder, u16)> = vec![
        ("root", app.get("/"), 200),
        ("health", app.get("/health"), 200),
        ("openapi", app.get("/api/v1/openapi.json"), 200),
        ("swagger", app.get("/docs/"), 200),
        ("redoc", app.get("/redoc"), 200),
        ("unknown path", app.get("/api/v1/nothing"), 404),
        ("wrong method", app.post("/health"), 405),
        ("no token", app.get("/api/v1/records/"), 403),
        ("bad token", app.get("/api/v1/records/").bearer_auth("nope"), 401),
        ("validation", app.post("/api/v1/auth/login").json(&json!({})), 422),
        (
            "preflight",
            app.request(Method::OPTIONS, "/api/v1/records/")
                .header("Origin", "https://app.example")
                .header("Access-Control-Request-Method", "POST"),
            200,
        ),
        ("record", app.get(&format!("/api/v1/records/{}", rec["uid"].as_str().unwrap())).bearer_auth(&user.token), 200),
        ("file", app.get(&file).bearer_auth(&user.token), 200),
        ("file range", app.get(&file).bearer_auth(&user.token).header("Range", "bytes=0-2"), 206),
    ];
    for (what, request, expected) in calls {
        let response = request.send().await.unwrap();
        assert_eq!(response.status().as_u16(), expected, "{what}");
        assert_security_headers(what, response.headers());
        if !what.starts_with("file") {
            assert!(response.headers().get(header::CONTENT_SECURITY_POLICY).is_none(), "{what}: no page-breaking CSP");
        }
    }

    // The file: sandboxed, and named safely (ASCII fallback plus the UTF-8 name).
    let response = app.get(&file).bearer_auth(&user.token).send().await.unwrap();
    let headers = response.headers();
    assert_eq!(headers[header::CONTENT_SECURITY_POLICY], "sandbox");
    assert_eq!(
        headers[header::CONTENT_DISPOSITION].to_str().unwrap(),
        "inline; filename=\"_________.txt\"; filename*=UTF-8''%E0%B0%A4%E0%B1%86%E0%B0%B2%E0%B1%81%E0%B0%97%E0%B1%81%20%E0%B0%95%E0%B0%A5.txt"
    );
    assert_eq!(response.text().await.unwrap(), "తెలుగు కథ");

    // With nosniff a browser runs only what is labelled as script or style: every asset the
    // documentation pages load is.
    for (asset, kind) in [
        ("/docs/swagger-ui-bundle.js", "javascript"),
        ("/docs/swagger-ui-standalone-preset.js", "javascript"),
        ("/docs/swagger-initializer.js", "javascript"),
        ("/docs/swagger-ui.css", "text/css"),
        ("/docs/index.css", "text/css"),
        ("/redoc/redoc.standalone.js", "javascript"),
    ] {
        let response = app.get(asset).send().await.unwrap();
        assert_eq!(response.status(), 200, "{asset}");
        let ct = response.headers()[header::CONTENT_TYPE].to_str().unwrap().to_owned();
        assert!(ct.contains(kind), "{asset}: {ct}");
    }
}
