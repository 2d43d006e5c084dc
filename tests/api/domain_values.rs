//! Values the database holds are read as what they are: a record status the service does not
//! name is kept verbatim (the original's rows may hold any text), while a media type or review
//! decision outside its closed set fails the request loudly (logged, 500) instead of being
//! relabelled as something else.

use serde_json::json;

use crate::{
    helpers::{TestApp, logs, send},
    records_crud::{category, create},
};

#[tokio::test]
async fn a_record_of_a_media_type_the_service_does_not_know_fails_loudly_instead_of_reading_as_text() {
    let app = TestApp::spawn().await;
    let alice = app.contributor().await;
    let cat = category(&app, "fables").await;
    let rec = create(&app, &alice, json!({"title": "కథ", "media_type": "image", "category_id": cat})).await;
    let id = rec["uid"].as_str().unwrap().to_owned();

    // A value added to the enum behind the service's back (no migration of this service does).
    sqlx::query("ALTER TYPE mediatype ADD VALUE 'gif'").execute(app.pool()).await.unwrap();
    sqlx::query("UPDATE record SET media_type = 'gif' WHERE uid = $1::uuid")
        .bind(&id)
        .execute(app.pool())
        .await
        .unwrap();

    let (status, body) = send(app.get(&format!("/api/v1/records/{id}")).header("Authorization", alice.bearer())).await;
    assert_eq!((status, body), (500, json!({"detail": "Internal server error"})), "never relabelled as `text`");
    let (status, _) = send(app.get("/api/v1/records/").header("Authorization", alice.bearer())).await;
    assert_eq!(status, 500);
    let logged = logs::captured();
    assert!(logged.contains("database error") && logged.contains("gif"), "the cause is logged: {logged}");
}

#[tokio::test]
async fn statuses_read_back_verbatim_and_an_unknown_review_decision_fails_loudly() {
    let app = TestApp::spawn().await;
    let (reviewer, alice) = (app.reviewer().await, app.contributor().await);
    let cat = category(&app, "fables").await;
    let rec = create(&app, &alice, json!({"title": "కథ", "media_type": "text", "category_id": cat})).await;
    assert_eq!(rec["status"], "pending");
    let id = rec["uid"].as_str().unwrap().to_owned();
    let get =
        || async { send(app.get(&format!("/api/v1/records/{id}")).header("Authorization", alice.bearer())).await };

    // A status of the reviewer's own choosing, case and spaces kept.
    let (status, body) = send(
        app.put(&format!("/api/v1/records/{id}"))
            .header("Authorization", reviewer.bearer())
            .json(&json!({"status": "Needs Another Look"})),
    )
    .await;
    assert_eq!(
        (status, body["status"].as_str(), body["review_status"].as_str()),
        (200, Some("Needs Another Look"), None)
    );

    // A row carried over from the original, longer than any status this service accepts.
    sqlx::query("ALTER TABLE record DROP CONSTRAINT record_status_length").execute(app.pool()).await.unwrap();
    let legacy = "transcription-in-progress (batch 7)";
    sqlx::query("UPDATE record SET status = $2 WHERE uid = $1::uuid")
        .bind(&id)
        .bind(legacy)
        .execute(app.pool())
        .await
        .unwrap();
    let (status, body) = get().await;
    assert_eq!((status, body["status"].as_str()), (200, Some(legacy)));

    // A decision stated through `status` is the review decision.
    let (status, body) = send(
        app.put(&format!("/api/v1/records/{id}"))
            .header("Authorization", reviewer.bearer())
            .json(&json!({"status": "rejected", "reviewed": true})),
    )
    .await;
    assert_eq!(
        (status, body["status"].as_str(), body["review_status"].as_str()),
        (200, Some("rejected"), Some("rejected"))
    );

    // `review_status` holds a decision or nothing: anything else is a broken row, reported.
    sqlx::query("ALTER TABLE record DROP CONSTRAINT record_review_status_valid").execute(app.pool()).await.unwrap();
    sqlx::query("UPDATE record SET review_status = 'maybe' WHERE uid = $1::uuid")
        .bind(&id)
        .execute(app.pool())
        .await
        .unwrap();
    let (status, body) = get().await;
    assert_eq!((status, body), (500, json!({"detail": "Internal server error"})));
    let logged = logs::captured();
    assert!(logged.contains(r#"unknown review status "maybe""#), "the cause is logged: {logged}");
}
