//! Calls of the official Flutter app replayed as it sends them: the last-login updates after
//! every login (both the old `PATCH /users/{id}` and the newer `PATCH /users/{id}/last-login`),
//! with Dart's offset-less `toIso8601String()` timestamps.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::{
    helpers::{TestApp, accounts::PASSWORD, send},
    records_crud::{category, create},
};

/// Sends `body` the way Dart's `http` package does: `jsonEncode`d, UTF-8 JSON content type.
fn dart_json(request: reqwest::RequestBuilder, body: &Value) -> reqwest::RequestBuilder {
    request.header("Content-Type", "application/json; charset=utf-8").body(body.to_string())
}

/// Logs in as the app does and answers (user id, token).
async fn app_login(app: &TestApp, phone: &str) -> (String, String) {
    let (status, body) =
        send(dart_json(app.post("/api/v1/auth/login"), &json!({"phone": phone, "password": PASSWORD}))).await;
    assert_eq!(status, 200, "{body}");
    (body["user"]["id"].as_str().unwrap().to_owned(), body["access_token"].as_str().unwrap().to_owned())
}

async fn stored_last_login(app: &TestApp, id: &str) -> DateTime<Utc> {
    sqlx::query_scalar(r#"SELECT last_login_at FROM "user" WHERE id = $1::uuid"#)
        .bind(id)
        .fetch_one(app.pool())
        .await
        .unwrap()
}

#[tokio::test]
async fn the_official_app_records_the_last_login_with_either_call() {
    let app = TestApp::spawn().await;
    let user = app.contributor().await;

    // The released app: PATCH /users/{id} {"last_login_at": <local time, no offset>}.
    let (id, token) = app_login(&app, &user.phone).await;
    let (status, body) = send(
        dart_json(app.patch(&format!("/api/v1/users/{id}")), &json!({"last_login_at": "2026-12-01T21:20:00.123456"}))
            .bearer_auth(&token),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["last_login_at"], "2026-12-01T21:20:00.123456Z", "read as UTC");
    assert_eq!(stored_last_login(&app, &id).await.to_rfc3339(), "2026-12-01T21:20:00.123456+00:00");

    // The newest app: PATCH /users/{id}/last-login {"last_login": ...}; Dart omits the
    // microseconds when they are zero, and web builds only have milliseconds.
    for (sent, written) in [
        ("2026-11-30T08:05:09.250", "2026-11-30T08:05:09.250000Z"),
        ("2026-11-29T08:05:09", "2026-11-29T08:05:09.000000Z"),
        ("2026-11-28T08:05:09.123456Z", "2026-11-28T08:05:09.123456Z"),
        ("2026-11-27T13:35:09+05:30", "2026-11-27T08:05:09.000000Z"),
    ] {
        let (_, token) = app_login(&app, &user.phone).await;
        let (status, body) = send(
            dart_json(app.patch(&format!("/api/v1/users/{id}/last-login")), &json!({"last_login": sent}))
                .bearer_auth(&token),
        )
        .await;
        assert_eq!(status, 200, "{sent}: {body}");
        assert_eq!(body["id"], id.as_str(), "the user is answered");
        assert_eq!(body["phone"], user.phone.as_str());
        assert!(body.get("hashed_password").is_none());
        assert_eq!(body["last_login_at"], written, "{sent}");
    }

    // A local time ahead of UTC (India is +05:30) would be in the future: it is stored as now.
    let before = Utc::now();
    let future = (Utc::now() + chrono::Duration::hours(5)).naive_utc().format("%Y-%m-%dT%H:%M:%S%.6f").to_string();
    let (status, body) = send(
        dart_json(app.patch(&format!("/api/v1/users/{id}/last-login")), &json!({"last_login": future}))
            .bearer_auth(&user.token),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let stored = stored_last_login(&app, &id).await;
    assert!(stored >= before - chrono::Duration::seconds(1) && stored <= Utc::now(), "{stored}");
    // An empty body means "now" as well.
    let (status, _) =
        send(dart_json(app.patch(&format!("/api/v1/users/{id}/last-login")), &json!({})).bearer_auth(&user.token))
            .await;
    assert_eq!(status, 200);

    // Who may call it: the user themself and admins; nobody else, and not anonymously.
    let (other, admin) = (app.contributor().await, app.admin().await);
    let path = format!("/api/v1/users/{id}/last-login");
    let body = json!({"last_login": "2026-11-01T00:00:00"});
    let (status, answer) = send(dart_json(app.patch(&path), &body).bearer_auth(&other.token)).await;
    assert_eq!(status, 403, "{answer}");
    assert!(answer["detail"].as_str().unwrap().starts_with("Access denied. Required "));
    assert_eq!(send(dart_json(app.patch(&path), &body)).await, (403, json!({"detail": "Not authenticated"})));
    let (status, answer) = send(dart_json(app.patch(&path), &body).bearer_auth(&admin.token)).await;
    assert_eq!((status, answer["last_login_at"].as_str()), (200, Some("2026-11-01T00:00:00.000000Z")));
    // Not a timestamp: the usual 422, never a 500.
    let (status, answer) =
        send(dart_json(app.patch(&path), &json!({"last_login": "yesterday evening"})).bearer_auth(&user.token)).await;
    assert_eq!(status, 422, "{answer}");
    assert_eq!(answer["errors"][0]["loc"], json!(["body", "last_login"]));
    assert_eq!(answer["errors"][0]["type"], "datetime_parsing");
    let (status, answer) =
        send(dart_json(app.patch("/api/v1/users/not-a-uuid/last-login"), &body).bearer_auth(&user.token)).await;
    assert_eq!(status, 422, "{answer}");
}

#[tokio::test]
async fn offset_less_timestamps_are_accepted_wherever_a_timestamp_is() {
    let app = TestApp::spawn().await;
    let (user, admin) = (app.contributor().await, app.admin().await);
    let cat = category(&app, "times").await;
    create(&app, &user, json!({"title": "t", "media_type": "text", "category_id": cat})).await;
    let list = |query: &str| send(app.get(&format!("/api/v1/records/?{query}")).header("Authorization", user.bearer()));
    for (query, expected) in [
        ("created_after=2000-01-01T00:00:00", 1),
        ("created_after=2000-01-01T00:00:00.123", 1),
        ("created_after=2000-01-01T00:00:00Z", 1),
        ("created_before=2000-01-01T00:00:00.123456", 0),
        ("created_after=2999-01-01T00:00:00", 0),
    ] {
        let (status, body) = list(query).await;
        assert_eq!(status, 200, "{query}: {body}");
        assert_eq!(body.as_array().unwrap().len(), expected, "{query}");
    }
    let (status, body) = list("created_after=soon").await;
    assert_eq!(status, 422);
    assert_eq!(body["errors"][0]["loc"], json!(["query", "created_after"]));

    // PUT /users/{id} (admins) reads the same forms.
    let (status, body) = send(
        app.put(&format!("/api/v1/users/{}", user.id))
            .header("Authorization", admin.bearer())
            .json(&json!({"last_login_at": "2026-06-01 10:00:00"})),
    )
    .await;
    assert_eq!((status, body["last_login_at"].as_str()), (200, Some("2026-06-01T10:00:00.000000Z")), "{body}");
}
