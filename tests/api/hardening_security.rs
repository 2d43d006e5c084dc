//! Smaller security defects, each driven over HTTP (or through the binary): reviewers only review.

use serde_json::{Value, json};

use crate::{
    helpers::{TestApp, accounts::TestUser, send},
    records_crud::{HYDERABAD, category, create},
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
