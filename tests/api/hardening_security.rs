//! Smaller security defects, each driven over HTTP (or through the binary): reviewers only review, unpublished categories stay unusable and Range arithmetic.

use reqwest::header;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::{
    helpers::{TestApp, accounts::TestUser, send},
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
