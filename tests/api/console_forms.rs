//! The web console over HTTP: session cookies, logout and password changes ending sessions, a
//! CSRF check on every form (a missing or wrong token is 403 and changes nothing), role checks on
//! every page and endpoint, and the script-less paths (plain upload form, review by form).

use reqwest::{Method, StatusCode};
use uuid::Uuid;

use crate::helpers::{TestApp, accounts::PASSWORD, console::ConsoleClient, sms::FakeSms};
use crate::records_crud::category;
use crate::records_upload::{multipart, upload};

async fn text_record(app: &TestApp, user: &crate::helpers::accounts::TestUser, category_id: Uuid, title: &str) -> Uuid {
    let category_id = category_id.to_string();
    let (status, body) = upload(
        app,
        user,
        &[("title", title), ("category_id", &category_id), ("media_type", "text")],
        Some(("file", "note.txt", format!("తెలుగు వాక్యం {title}").as_bytes())),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    Uuid::parse_str(body["uid"].as_str().or(body["id"].as_str()).unwrap()).unwrap()
}

async fn sessions_of(app: &TestApp, user_id: Uuid) -> i64 {
    corpus_te::db::console_sessions::count_for_user(app.pool(), user_id).await.unwrap()
}

#[tokio::test]
async fn console_session_cookie_is_httponly_samesite_and_secure_over_https() {
    let app = TestApp::spawn().await;
    let user = app.contributor().await;
    let mut browser = ConsoleClient::signed_in(&app, &user.phone).await;
    let cookie = browser.set_cookies.iter().find(|c| c.starts_with("corpus_console=")).unwrap().clone();
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Lax"), "{cookie}");
    assert!(cookie.contains("Path=/console"), "{cookie}");
    assert!(!cookie.contains("Secure"), "plain http in development: {cookie}");
    // The database holds only the hash of the id.
    let id = browser.cookies["corpus_console"].clone();
    let stored: Vec<String> =
        sqlx::query_scalar("SELECT id_hash FROM console_session").fetch_all(app.pool()).await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_ne!(stored[0], id);

    // Behind a proxy that terminated https, the cookie is Secure.
    let token = browser.csrf("/console/login").await;
    let response = browser
        .send(browser.request(Method::POST, "/console/login").header("x-forwarded-proto", "https").form(&[
            ("csrf", token.as_str()),
            ("phone", user.phone.as_str()),
            ("password", PASSWORD),
        ]))
        .await;
    assert_eq!(response.status(), 303);
    let cookie = browser.set_cookies.iter().rev().find(|c| c.starts_with("corpus_console=")).unwrap();
    assert!(cookie.contains("; Secure"), "{cookie}");
}

#[tokio::test]
async fn console_logout_ends_the_session() {
    let app = TestApp::spawn().await;
    let user = app.contributor().await;
    let mut browser = ConsoleClient::signed_in(&app, &user.phone).await;
    let stolen = browser.cookies["corpus_console"].clone();
    let token = browser.csrf("/console/mine").await;
    let (status, location, _) = browser.post("/console/logout", &[("csrf", &token)]).await;
    assert_eq!((status.as_u16(), location.as_str()), (303, "/console/login"));
    assert_eq!(sessions_of(&app, user.id).await, 0);
    // Even a copy of the old cookie no longer works.
    browser.cookies.insert("corpus_console".into(), stolen);
    let (status, location, _) = browser.get("/console/mine").await;
    assert_eq!((status.as_u16(), location.as_str()), (303, "/console/login"));
}

#[tokio::test]
async fn console_password_change_and_deactivation_end_sessions() {
    let app = TestApp::spawn().await;
    let user = app.contributor().await;
    let mut browser = ConsoleClient::signed_in(&app, &user.phone).await;
    assert_eq!(browser.get("/console/mine").await.0, 200);
    let (status, body) = crate::helpers::send(
        app.post("/api/v1/auth/change-password")
            .header("Authorization", user.bearer())
            .json(&serde_json::json!({"current_password": PASSWORD, "new_password": "another-password-2"})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(sessions_of(&app, user.id).await, 0);
    let (status, location, _) = browser.get("/console/mine").await;
    assert_eq!((status.as_u16(), location.as_str()), (303, "/console/login"));

    // An admin deactivating a user ends that user's sessions.
    let other = app.contributor().await;
    let mut victim = ConsoleClient::signed_in(&app, &other.phone).await;
    let admin = app.admin().await;
    let mut console = ConsoleClient::signed_in(&app, &admin.phone).await;
    let token = console.csrf("/console/admin/users").await;
    let (status, _, body) = console
        .post(&format!("/console/admin/users/{}/active", other.id), &[("csrf", &token), ("active", "false")])
        .await;
    assert_eq!(status, 303, "{body}");
    assert_eq!(sessions_of(&app, other.id).await, 0);
    assert_eq!(victim.get("/console/mine").await.0, 303);

    // An admin cannot lock themselves out: no self-deactivation, no dropping their own admin role.
    let path = format!("/console/admin/users/{}/active", admin.id);
    assert_eq!(console.post(&path, &[("csrf", &token), ("active", "false")]).await.0, 400);
    let path = format!("/console/admin/users/{}/roles", admin.id);
    assert_eq!(console.post(&path, &[("csrf", &token), ("role", "user")]).await.0, 400);
    assert_eq!(sessions_of(&app, admin.id).await, 1);
    assert_eq!(console.get("/console/admin").await.0, 200);
}

/// Each signed-in form, posted without a token and with a wrong one: 403, and `unchanged` holds.
#[tokio::test]
async fn console_every_signed_in_form_refuses_a_missing_or_wrong_csrf_token() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let contributor = app.contributor().await;
    let category_id = category(&app, "stories").await;
    let record = text_record(&app, &contributor, category_id, "one").await;
    let mut console = ConsoleClient::signed_in(&app, &admin.phone).await;
    let good = console.csrf("/console/admin/users").await;
    let record_path = format!("/console/review/{record}");
    let active_path = format!("/console/admin/users/{}/active", contributor.id);
    let roles_path = format!("/console/admin/users/{}/roles", contributor.id);
    let category_path = format!("/console/admin/categories/{category_id}");
    let cancel_path = format!("/console/admin/exports/{}/cancel", Uuid::new_v4());
    let forms: Vec<(&str, Vec<(&str, &str)>)> = vec![
        ("/console/admin/exports", vec![("media_type", "audio")]),
        (&cancel_path, vec![]),
        ("/console/logout", vec![]),
        (&record_path, vec![("decision", "approve"), ("note", "ok")]),
        (&active_path, vec![("active", "false")]),
        (&roles_path, vec![("role", "admin")]),
        ("/console/admin/categories", vec![("name", "forged"), ("title", "Forged"), ("published", "yes")]),
        (&category_path, vec![("name", "stories"), ("title", "Renamed"), ("rank", "9")]),
    ];
    for (path, fields) in &forms {
        for token in [None, Some("0".repeat(64)), Some(good[..63].to_owned() + "x")] {
            let mut form = fields.clone();
            if let Some(token) = &token {
                form.push(("csrf", token));
            }
            let (status, _, body) = console.post(path, &form).await;
            assert_eq!(status, 403, "{path} with {token:?}: {body}");
        }
    }
    // The bridge's uploads need the token too (header or query).
    let response = console
        .send(console.request(Method::POST, "/console/api/records/upload/chunk").header("x-csrf-token", "nope"))
        .await;
    assert_eq!(response.status(), 403);
    let response = console.send(console.request(Method::POST, "/console/api/records/upload?next=mine")).await;
    assert_eq!(response.status(), 403);

    // Nothing changed.
    assert_eq!(sessions_of(&app, admin.id).await, 1);
    let reviewed: bool = sqlx::query_scalar("SELECT reviewed FROM record WHERE uid = $1")
        .bind(record)
        .fetch_one(app.pool())
        .await
        .unwrap();
    assert!(!reviewed);
    let active: bool = sqlx::query_scalar(r#"SELECT is_active FROM "user" WHERE id = $1"#)
        .bind(contributor.id)
        .fetch_one(app.pool())
        .await
        .unwrap();
    assert!(active);
    let roles: Vec<String> = sqlx::query_scalar(
        "SELECT r.name::text FROM user_roles ur JOIN role r ON r.id = ur.role_id WHERE ur.user_id = $1",
    )
    .bind(contributor.id)
    .fetch_all(app.pool())
    .await
    .unwrap();
    assert_eq!(roles, vec!["user".to_owned()]);
    let categories: Vec<(String, String, i32)> =
        sqlx::query_as("SELECT name, title, rank FROM category").fetch_all(app.pool()).await.unwrap();
    assert_eq!(categories, vec![("stories".to_owned(), "stories".to_owned(), 0)]);
    let uploads: i64 = sqlx::query_scalar("SELECT count(*) FROM upload_session").fetch_one(app.pool()).await.unwrap();
    assert_eq!(uploads, 0);
    let exports: i64 = sqlx::query_scalar("SELECT count(*) FROM jobs WHERE kind = 'export_dataset'")
        .fetch_one(app.pool())
        .await
        .unwrap();
    assert_eq!(exports, 0);

    // With the right token the same forms work.
    let (status, _, body) = console
        .post(&category_path, &[("csrf", &good), ("name", "stories"), ("title", "Renamed"), ("rank", "9")])
        .await;
    assert_eq!(status, 303, "{body}");
    let title: String = sqlx::query_scalar("SELECT title FROM category").fetch_one(app.pool()).await.unwrap();
    assert_eq!(title, "Renamed");
}

/// The forms shown before signing in use a double-submit token: without the cookie's value,
/// 403, no session, no SMS, no account.
#[tokio::test]
async fn console_every_sign_in_form_refuses_a_missing_or_wrong_csrf_token() {
    let sms = FakeSms::start().await;
    let app = TestApp::spawn_with(|c| sms.configure_webhook(c)).await;
    let user = app.contributor().await;
    let mut browser = ConsoleClient::new(&app);
    let good = browser.csrf("/console/login").await;
    let forms: Vec<(&str, Vec<(&str, &str)>)> = vec![
        ("/console/login", vec![("phone", &user.phone), ("password", PASSWORD)]),
        ("/console/login/otp", vec![("phone", &user.phone)]),
        ("/console/login/otp/verify", vec![("phone", &user.phone), ("code", "123456")]),
        ("/console/signup", vec![("phone", "+919811111111"), ("name", "Sita")]),
        (
            "/console/signup/verify",
            vec![("phone", "+919811111111"), ("name", "Sita"), ("code", "123456"), ("consent", "yes")],
        ),
    ];
    for (path, fields) in &forms {
        for token in [None, Some("0".repeat(64))] {
            let mut form = fields.clone();
            if let Some(token) = &token {
                form.push(("csrf", token));
            }
            let (status, _, body) = browser.post(path, &form).await;
            assert_eq!(status, 403, "{path} with {token:?}: {body}");
        }
        // The right value in the form but no cookie: 403 too.
        let mut cookieless = ConsoleClient::new(&app);
        let mut form = fields.clone();
        form.push(("csrf", &good));
        assert_eq!(cookieless.post(path, &form).await.0, 403, "{path} without the cookie");
    }
    assert!(!browser.cookies.contains_key("corpus_console"));
    assert_eq!(sessions_of(&app, user.id).await, 0);
    assert!(sms.requests().is_empty());
    let users: i64 = sqlx::query_scalar(r#"SELECT count(*) FROM "user""#).fetch_one(app.pool()).await.unwrap();
    assert_eq!(users, 1);
}

#[tokio::test]
async fn console_sign_in_by_code_and_sign_up_with_consent() {
    let sms = FakeSms::start().await;
    let app = TestApp::spawn_with(|c| {
        sms.configure_webhook(c);
        c.otp.otp_rate_limit_minutes = 0;
    })
    .await;
    let user = app.contributor().await;
    let mut browser = ConsoleClient::new(&app);
    let token = browser.csrf("/console/login").await;
    let (status, _, page) = browser.post("/console/login/otp", &[("csrf", &token), ("phone", &user.phone)]).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("login-code"));
    let code = sms.last_code(&user.phone);
    let (status, _, page) = browser
        .post("/console/login/otp/verify", &[("csrf", &token), ("phone", &user.phone), ("code", "000000")])
        .await;
    assert_eq!(status, 400, "{page}");
    let (status, location, _) =
        browser.post("/console/login/otp/verify", &[("csrf", &token), ("phone", &user.phone), ("code", &code)]).await;
    assert_eq!((status.as_u16(), location.as_str()), (303, "/console/"));
    assert_eq!(sessions_of(&app, user.id).await, 1);

    // Sign-up: the consent box is required.
    let phone = "+919822222222";
    let mut newcomer = ConsoleClient::new(&app);
    let token = newcomer.csrf("/console/signup").await;
    let (status, _, page) =
        newcomer.post("/console/signup", &[("csrf", &token), ("phone", phone), ("name", "Sita")]).await;
    assert_eq!(status, 200, "{page}");
    let code = sms.last_code(phone);
    let (status, _, page) = newcomer
        .post("/console/signup/verify", &[("csrf", &token), ("phone", phone), ("name", "Sita"), ("code", &code)])
        .await;
    assert_eq!(status, 400, "{page}");
    let users: i64 = sqlx::query_scalar(r#"SELECT count(*) FROM "user" WHERE phone = $1"#)
        .bind(phone)
        .fetch_one(app.pool())
        .await
        .unwrap();
    assert_eq!(users, 0);
    let (status, location, page) = newcomer
        .post(
            "/console/signup/verify",
            &[("csrf", &token), ("phone", phone), ("name", "Sita"), ("code", &code), ("consent", "yes")],
        )
        .await;
    assert_eq!((status.as_u16(), location.as_str()), (303, "/console/"), "{page}");
    let consent: bool = sqlx::query_scalar(r#"SELECT has_given_consent FROM "user" WHERE phone = $1"#)
        .bind(phone)
        .fetch_one(app.pool())
        .await
        .unwrap();
    assert!(consent);
    assert_eq!(newcomer.get("/console/contribute").await.0, 200);
}

#[tokio::test]
async fn console_roles_are_checked_on_every_page_and_endpoint() {
    let app = TestApp::spawn().await;
    let contributor = app.contributor().await;
    let reviewer = app.reviewer().await;
    let category_id = category(&app, "stories").await;
    let record = text_record(&app, &contributor, category_id, "one").await;

    // Anonymous: every page sends to the sign-in page; the bridge answers 401.
    let mut anonymous = ConsoleClient::new(&app);
    for path in ["/console/contribute", "/console/mine", "/console/review", "/console/admin", "/console/admin/users"] {
        let (status, location, _) = anonymous.get(path).await;
        assert_eq!((status.as_u16(), location.as_str()), (303, "/console/login"), "{path}");
    }
    assert_eq!(anonymous.get(&format!("/console/api/records/{record}/file")).await.0, 401);

    // A contributor: no review, no admin, not even with a valid token.
    let mut user = ConsoleClient::signed_in(&app, &contributor.phone).await;
    let token = user.csrf("/console/contribute").await;
    for path in [
        "/console/review",
        "/console/admin",
        "/console/admin/users",
        "/console/admin/categories",
        "/console/admin/exports",
    ] {
        let (status, _, page) = user.get(path).await;
        assert_eq!(status, 403, "{path}");
        assert!(!page.contains("review-form"));
    }
    let (status, _, _) =
        user.post(&format!("/console/review/{record}"), &[("csrf", &token), ("decision", "approve")]).await;
    assert_eq!(status, 403);
    let (status, _, _) = user
        .post("/console/admin/categories", &[("csrf", &token), ("name", "x"), ("title", "X"), ("published", "yes")])
        .await;
    assert_eq!(status, 403);
    let (status, _, _) = user
        .post(&format!("/console/admin/users/{}/roles", contributor.id), &[("csrf", &token), ("role", "admin")])
        .await;
    assert_eq!(status, 403);
    let (status, _, _) = user.post("/console/admin/exports", &[("csrf", &token), ("media_type", "audio")]).await;
    assert_eq!(status, 403);
    let exports: i64 = sqlx::query_scalar("SELECT count(*) FROM jobs WHERE kind = 'export_dataset'")
        .fetch_one(app.pool())
        .await
        .unwrap();
    assert_eq!(exports, 0);
    let reviewed: bool = sqlx::query_scalar("SELECT reviewed FROM record WHERE uid = $1")
        .bind(record)
        .fetch_one(app.pool())
        .await
        .unwrap();
    assert!(!reviewed);
    let admins: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM user_roles ur JOIN role r ON r.id = ur.role_id WHERE ur.user_id = $1 AND r.name::text = 'admin'",
    )
    .bind(contributor.id)
    .fetch_one(app.pool())
    .await
    .unwrap();
    assert_eq!(admins, 0);

    // A reviewer reviews but does not administer.
    let mut staff = ConsoleClient::signed_in(&app, &reviewer.phone).await;
    assert_eq!(staff.get("/console/review").await.0, 200);
    assert_eq!(staff.get("/console/admin").await.0, 403);
    assert_eq!(staff.get("/console/admin/users").await.0, 403);
    assert_eq!(staff.get("/console/admin/exports").await.0, 403);
}

#[tokio::test]
async fn console_two_reviewers_get_different_records_and_decide_by_form() {
    let app = TestApp::spawn().await;
    let contributor = app.contributor().await;
    let category_id = category(&app, "stories").await;
    let first = text_record(&app, &contributor, category_id, "first").await;
    let second = text_record(&app, &contributor, category_id, "second").await;
    let (one, two) = (app.reviewer().await, app.reviewer().await);
    let mut a = ConsoleClient::signed_in(&app, &one.phone).await;
    let mut b = ConsoleClient::signed_in(&app, &two.phone).await;
    let (_, _, page_a) = a.get("/console/review").await;
    let (_, _, page_b) = b.get("/console/review").await;
    assert!(page_a.contains(&first.to_string()), "{page_a}");
    assert!(page_b.contains(&second.to_string()), "{page_b}");
    assert!(!page_b.contains(&first.to_string()));
    // The text is shown.
    assert!(page_a.contains("తెలుగు వాక్యం first"));

    let token = crate::helpers::console::csrf_of(&page_a);
    let (status, location, _) = a
        .post(
            &format!("/console/review/{first}"),
            &[("csrf", &token), ("decision", "reject"), ("note", "noise"), ("n", "0")],
        )
        .await;
    assert_eq!(status, 303);
    assert!(location.starts_with("/console/review?n=1"), "{location}");
    let (status, note): (String, Option<String>) =
        sqlx::query_as("SELECT status, review_note FROM record WHERE uid = $1")
            .bind(first)
            .fetch_one(app.pool())
            .await
            .unwrap();
    assert_eq!((status.as_str(), note.as_deref()), ("rejected", Some("noise")));
    // The owner sees the outcome and the note.
    let mut owner = ConsoleClient::signed_in(&app, &contributor.phone).await;
    let (_, _, mine) = owner.get("/console/mine").await;
    assert!(mine.contains("noise"), "{mine}");
    assert!(mine.contains("id=\"total-records\">2<"), "{mine}");
}

#[tokio::test]
async fn console_plain_upload_form_works_without_javascript() {
    let app = TestApp::spawn().await;
    let contributor = app.contributor().await;
    let category_id = category(&app, "stories").await;
    let mut browser = ConsoleClient::signed_in(&app, &contributor.phone).await;
    let (_, _, page) = browser.get("/console/contribute").await;
    let form = page.split("id=\"upload-form\"").nth(1).unwrap();
    let action = form.split("action=\"").nth(1).unwrap().split('"').next().unwrap().replace("&amp;", "&");
    assert!(action.starts_with("/console/api/records/upload?next=mine&csrf="), "{action}");
    let category_id = category_id.to_string();
    let (content_type, body) = multipart(
        &[("category_id", &category_id), ("title", "కథ"), ("media_type", "text")],
        Some(("file", "story.txt", "ఒక కథ".as_bytes())),
    );
    let response =
        browser.send(browser.request(Method::POST, &action).header("content-type", content_type).body(body)).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()["location"], "/console/mine?uploaded=1");
    let (_, _, mine) = browser.get("/console/mine?uploaded=1").await;
    assert!(mine.contains("కథ"), "{mine}");
    // A refusal is a page with the API's reason, not JSON.
    let (content_type, body) = multipart(
        &[("category_id", &category_id), ("title", "bad"), ("media_type", "audio")],
        Some(("file", "x.txt", b"plain words")),
    );
    let response =
        browser.send(browser.request(Method::POST, &action).header("content-type", content_type).body(body)).await;
    assert_eq!(response.status(), 415);
    assert!(response.text().await.unwrap().contains("<html"));
}

#[tokio::test]
async fn console_pages_render_in_telugu_and_english() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let mut console = ConsoleClient::signed_in(&app, &admin.phone).await;
    for path in [
        "/console/contribute",
        "/console/mine",
        "/console/review",
        "/console/admin",
        "/console/admin/users",
        "/console/admin/categories",
    ] {
        let (status, _, page) = console.get(path).await;
        assert_eq!(status, 200, "{path}");
        assert!(page.contains("lang=\"te\"") && page.contains("తెలుగు కార్పస్"), "{path}");
    }
    let (status, location, _) = console.get("/console/lang/en?next=/console/admin").await;
    assert_eq!((status.as_u16(), location.as_str()), (303, "/console/admin"));
    let (_, _, page) = console.get("/console/admin").await;
    assert!(page.contains("lang=\"en\"") && page.contains("Dashboard"));
    // Never an open redirect.
    let (_, location, _) = console.get("/console/lang/te?next=//evil.example/").await;
    assert_eq!(location, "/console/");
    // Assets are embedded and cacheable.
    let response = console.send(console.request(Method::GET, "/console/assets/console.js")).await;
    assert_eq!(response.status(), 200);
    assert!(response.headers()["cache-control"].to_str().unwrap().contains("max-age"));
}
