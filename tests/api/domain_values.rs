//! Values the database holds are read as what they are: a media type outside its closed set fails
//! the request loudly (logged, 500) instead of being relabelled as something else.

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
