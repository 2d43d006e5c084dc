//! Records over HTTP: JSON create (ownership, locations), list filters and cursor, get, update,
//! delete, generate_file, spatial search in metres and review.

use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{TestApp, accounts::TestUser, send};

/// Hyderabad and Secunderabad, ≈ 6.2 km apart.
pub const HYDERABAD: (f64, f64) = (17.385, 78.4867);
pub const SECUNDERABAD: (f64, f64) = (17.4399, 78.4983);

pub async fn category(app: &TestApp, name: &str) -> Uuid {
    sqlx::query_scalar("INSERT INTO category (name, title, published) VALUES ($1, $1, true) RETURNING id")
        .bind(name)
        .fetch_one(app.pool())
        .await
        .unwrap()
}

pub async fn create(app: &TestApp, user: &TestUser, body: Value) -> Value {
    let (status, body) = send(app.post("/api/v1/records/").header("Authorization", user.bearer()).json(&body)).await;
    assert_eq!(status, 201, "{body}");
    body
}

#[tokio::test]
async fn record_create_get_update_delete_with_ownership() {
    let app = TestApp::spawn().await;
    let (admin, reviewer, alice, bob) =
        (app.admin().await, app.reviewer().await, app.contributor().await, app.contributor().await);
    let cat = category(&app, "fables").await;

    // Review, status and file fields are ignored on create; location object accepted.
    let rec = create(
        &app,
        &alice,
        json!({
            "title": "కథ", "media_type": "text", "category_id": cat, "user_id": alice.id,
            "location": {"latitude": HYDERABAD.0, "longitude": HYDERABAD.1},
            "reviewed": true, "reviewed_by": admin.id, "status": "approved", "file_url": "http://evil/x",
            "language": "te", "release_rights": "creator", "metadata": {"device": "phone"}
        }),
    )
    .await;
    assert_eq!(rec["user_id"], json!(alice.id));
    assert_eq!((rec["reviewed"].as_bool(), rec["status"].as_str()), (Some(false), Some("pending")));
    assert!(rec["reviewed_by"].is_null() && rec["file_url"].is_null());
    assert_eq!(rec["id"], rec["uid"]);
    assert_eq!(rec["location"], json!({"latitude": 17.385, "longitude": 78.4867}));
    assert_eq!((rec["language"].as_str(), rec["release_rights"].as_str()), (Some("te"), Some("creator")));
    assert_eq!(rec["metadata"], json!({"device": "phone"}));
    let id = rec["uid"].as_str().unwrap().to_owned();

    // Top-level latitude/longitude; half pair → 422; out of range → 422.
    let rec2 = create(
        &app,
        &alice,
        json!({"title": "t", "media_type": "audio", "category_id": cat,
        "latitude": SECUNDERABAD.0, "longitude": SECUNDERABAD.1}),
    )
    .await;
    assert_eq!(rec2["location"]["latitude"], 17.4399);
    for bad in [
        json!({"title": "t", "media_type": "text", "category_id": cat, "latitude": 17.0}),
        json!({"title": "t", "media_type": "text", "category_id": cat, "location": {"latitude": 91, "longitude": 0}}),
        json!({"title": "", "media_type": "text", "category_id": cat}),
        json!({"title": "t", "media_type": "book", "category_id": cat}),
        json!({"title": "t", "media_type": "text"}),
    ] {
        let (status, body) =
            send(app.post("/api/v1/records/").header("Authorization", alice.bearer()).json(&bad)).await;
        assert_eq!(status, 422, "{bad} → {body}");
    }
    // Someone else's user_id: 403 for a contributor, honoured for an admin; unknown category 400.
    let (status, _) = send(
        app.post("/api/v1/records/")
            .header("Authorization", alice.bearer())
            .json(&json!({"title": "t", "media_type": "text", "category_id": cat, "user_id": bob.id})),
    )
    .await;
    assert_eq!(status, 403);
    let by_admin =
        create(&app, &admin, json!({"title": "t", "media_type": "text", "category_id": cat, "user_id": bob.id})).await;
    assert_eq!(by_admin["user_id"], json!(bob.id));
    let (status, body) = send(
        app.post("/api/v1/records/")
            .header("Authorization", alice.bearer())
            .json(&json!({"title": "t", "media_type": "text", "category_id": Uuid::new_v4()})),
    )
    .await;
    assert_eq!((status, body["detail"].as_str()), (400, Some("Category not found")));

    // Get: owner and staff yes, other contributor 404; bad id 400.
    for (u, expect) in [(&alice, 200), (&reviewer, 200), (&admin, 200), (&bob, 404)] {
        let (status, _) = send(app.get(&format!("/api/v1/records/{id}")).header("Authorization", u.bearer())).await;
        assert_eq!(status, expect);
    }
    let (status, body) = send(app.get("/api/v1/records/nope").header("Authorization", admin.bearer())).await;
    assert_eq!((status, body["detail"].as_str()), (400, Some("Invalid record ID format")));

    // List: contributors see their own only.
    let (status, body) = send(app.get("/api/v1/records/").header("Authorization", alice.bearer())).await;
    assert_eq!((status, body.as_array().unwrap().len()), (200, 2));
    let (_, body) =
        send(app.get("/api/v1/records?user_id=".to_owned().as_str()).header("Authorization", bob.bearer())).await;
    assert_eq!(body.as_array().unwrap().len(), 1);
    let (_, body) = send(app.get("/api/v1/records/").header("Authorization", reviewer.bearer())).await;
    assert_eq!(body.as_array().unwrap().len(), 3);
    let (_, body) = send(app.get("/api/v1/records/?media_type=audio").header("Authorization", reviewer.bearer())).await;
    assert_eq!(body.as_array().unwrap().len(), 1);
    let (_, body) = send(
        app.get(&format!("/api/v1/records/?user_id={}&reviewed=false", bob.id))
            .header("Authorization", reviewer.bearer()),
    )
    .await;
    assert_eq!(body.as_array().unwrap().len(), 1);
    let (status, _) = send(app.get("/api/v1/records/?limit=1001").header("Authorization", reviewer.bearer())).await;
    assert_eq!(status, 422);

    // Update by the owner: content fields apply, status/reviewed ignored; location cleared by null.
    let (status, body) = send(app.put(&format!("/api/v1/records/{id}")).header("Authorization", alice.bearer()).json(
        &json!({"title": "కొత్త", "location": null, "status": "approved", "reviewed": true, "language": "telugu"}),
    ))
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (body["title"].as_str(), body["status"].as_str(), body["reviewed"].as_bool()),
        (Some("కొత్త"), Some("pending"), Some(false))
    );
    assert!(body["location"].is_null());
    assert_eq!(body["language"], "telugu");
    assert_ne!(body["updated_at"], rec["updated_at"]);
    let (status, _) = send(
        app.put(&format!("/api/v1/records/{id}")).header("Authorization", bob.bearer()).json(&json!({"title": "x"})),
    )
    .await;
    assert_eq!(status, 404);
    let (status, _) = send(
        app.put(&format!("/api/v1/records/{id}")).header("Authorization", alice.bearer()).json(&json!({"title": null})),
    )
    .await;
    assert_eq!(status, 422);
    let (status, _) = send(
        app.put(&format!("/api/v1/records/{id}"))
            .header("Authorization", alice.bearer())
            .json(&json!({"longitude": 78.0})),
    )
    .await;
    assert_eq!(status, 422);
    // Reviewer setting reviewed=true stamps reviewer and time; the location is not theirs to move.
    let (status, body) = send(app.put(&format!("/api/v1/records/{id}")).header("Authorization", reviewer.bearer())
        .json(&json!({"reviewed": true, "status": "approved", "reviewed_by": admin.id, "latitude": 17.0, "longitude": 78.0}))).await;
    assert_eq!(status, 403, "{body}");
    let (status, body) = send(
        app.put(&format!("/api/v1/records/{id}"))
            .header("Authorization", reviewer.bearer())
            .json(&json!({"reviewed": true, "status": "approved", "reviewed_by": admin.id})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["reviewed_by"], json!(reviewer.id));
    assert!(body["reviewed_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!((body["status"].as_str(), body["review_status"].as_str()), (Some("approved"), Some("approved")));
    assert!(body["location"].is_null());

    // Delete: another contributor 404, reviewer 403, owner 200.
    let (status, _) = send(app.delete(&format!("/api/v1/records/{id}")).header("Authorization", bob.bearer())).await;
    assert_eq!(status, 404);
    let (status, _) =
        send(app.delete(&format!("/api/v1/records/{id}")).header("Authorization", reviewer.bearer())).await;
    assert_eq!(status, 403);
    let (status, body) =
        send(app.delete(&format!("/api/v1/records/{id}")).header("Authorization", alice.bearer())).await;
    assert_eq!((status, body["message"].as_str()), (200, Some("Record deleted successfully")));
    let (status, _) = send(app.get(&format!("/api/v1/records/{id}")).header("Authorization", admin.bearer())).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn record_list_keyset_cursor_walks_every_record_once() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let cat = category(&app, "events").await;
    sqlx::query(
        "INSERT INTO record (user_id, category_id, title, media_type, created_at)
                 SELECT $1, $2, 'r' || g, 'text', now() - (g % 7) * interval '1 minute' FROM generate_series(1, 53) g",
    )
    .bind(admin.id)
    .bind(cat)
    .execute(app.pool())
    .await
    .unwrap();
    let mut seen = Vec::new();
    let mut url = "/api/v1/records/?limit=10".to_owned();
    loop {
        let response = app.get(&url).header("Authorization", admin.bearer()).send().await.unwrap();
        let next = response.headers().get("x-next-cursor").map(|v| v.to_str().unwrap().to_owned());
        let page: Vec<Value> = response.json().await.unwrap();
        seen.extend(page.iter().map(|r| r["uid"].as_str().unwrap().to_owned()));
        match next {
            Some(c) => url = format!("/api/v1/records/?limit=10&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen.len(), 53);
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 53);
    // skip/limit still works and agrees with the cursor order.
    let (_, page) = send(app.get("/api/v1/records/?skip=10&limit=10").header("Authorization", admin.bearer())).await;
    let ids: Vec<String> = page.as_array().unwrap().iter().map(|r| r["uid"].as_str().unwrap().to_owned()).collect();
    assert_eq!(ids, seen[10..20]);
    let (status, _) = send(app.get("/api/v1/records/?cursor=garbage").header("Authorization", admin.bearer())).await;
    assert_eq!(status, 422);
}

#[tokio::test]
async fn record_generate_file_stores_a_sample_and_delete_removes_it() {
    let app = TestApp::spawn().await;
    let user = app.contributor().await;
    let cat = category(&app, "music").await;
    let (status, rec) = send(
        app.post("/api/v1/records/?generate_file=true&file_size_kb=2")
            .header("Authorization", user.bearer())
            .json(&json!({"title": "t", "media_type": "audio", "category_id": cat})),
    )
    .await;
    assert_eq!(status, 201, "{rec}");
    let uid = rec["uid"].as_str().unwrap();
    assert_eq!(rec["status"], "generated");
    assert_eq!(rec["file_size"], 2038);
    assert_eq!(rec["file_name"], format!("{uid}.mp3"));
    assert_eq!(rec["file_url"], format!("/api/v1/records/{uid}/file"));
    let path = app.storage_dir.path().join(format!("audio/{uid}.mp3"));
    assert_eq!(std::fs::metadata(&path).unwrap().len(), 2038);
    // Download, whole and ranged.
    let response =
        app.get(&format!("/api/v1/records/{uid}/file")).header("Authorization", user.bearer()).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.bytes().await.unwrap().len(), 2038);
    let response = app
        .get(&format!("/api/v1/records/{uid}/file"))
        .header("Authorization", user.bearer())
        .header("Range", "bytes=0-3")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 206);
    assert_eq!(response.headers()["content-range"], "bytes 0-3/2038");
    assert_eq!(response.bytes().await.unwrap().as_ref(), &[0xFF, 0xFB, 0x90, 0x00]);
    let response = app
        .get(&format!("/api/v1/records/{uid}/file"))
        .header("Authorization", user.bearer())
        .header("Range", "bytes=5000-")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 416);
    let (status, _) =
        send(app.get(&format!("/api/v1/records/{uid}/file")).header("Authorization", app.contributor().await.bearer()))
            .await;
    assert_eq!(status, 404);

    let (status, _) = send(app.delete(&format!("/api/v1/records/{uid}")).header("Authorization", user.bearer())).await;
    assert_eq!(status, 200);
    assert!(!path.exists(), "deleting a record deletes its object");
}

#[tokio::test]
async fn record_spatial_search_in_metres() {
    let app = TestApp::spawn().await;
    let (reviewer, alice) = (app.reviewer().await, app.contributor().await);
    let (cat, other) = (category(&app, "places").await, category(&app, "food").await);
    let hyd = create(
        &app,
        &alice,
        json!({"title": "hyd", "media_type": "audio", "category_id": cat,
        "location": {"latitude": HYDERABAD.0, "longitude": HYDERABAD.1}}),
    )
    .await;
    let sec = create(
        &app,
        &alice,
        json!({"title": "sec", "media_type": "image", "category_id": other,
        "location": {"latitude": SECUNDERABAD.0, "longitude": SECUNDERABAD.1}}),
    )
    .await;
    // A corner point of the box below, and one far away.
    create(
        &app,
        &alice,
        json!({"title": "corner", "media_type": "text", "category_id": cat,
        "location": {"latitude": 17.0, "longitude": 78.0}}),
    )
    .await;
    create(
        &app,
        &alice,
        json!({"title": "delhi", "media_type": "text", "category_id": cat,
        "location": {"latitude": 28.6139, "longitude": 77.209}}),
    )
    .await;
    create(&app, &alice, json!({"title": "nowhere", "media_type": "text", "category_id": cat})).await;
    let auth = reviewer.bearer();
    let titles =
        |v: &Value| v.as_array().unwrap().iter().map(|r| r["title"].as_str().unwrap().to_owned()).collect::<Vec<_>>();

    // nearby: 5 km from Hyderabad excludes Secunderabad (≈6.2 km); 7 km includes it, nearest first.
    let (status, body) = send(
        app.get(&format!(
            "/api/v1/records/search/nearby?latitude={}&longitude={}&distance_meters=5000",
            HYDERABAD.0, HYDERABAD.1
        ))
        .header("Authorization", &auth),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(titles(&body), ["hyd"]);
    let (_, body) = send(
        app.get(&format!(
            "/api/v1/records/search/nearby?latitude={}&longitude={}&radius=7000",
            HYDERABAD.0, HYDERABAD.1
        ))
        .header("Authorization", &auth),
    )
    .await;
    assert_eq!(titles(&body), ["hyd", "sec"]);
    let (_, body) = send(
        app.get(&format!("/api/v1/records/search/nearby?latitude={}&longitude={}", SECUNDERABAD.0, SECUNDERABAD.1))
            .header("Authorization", &auth),
    )
    .await;
    assert_eq!(titles(&body), ["sec", "hyd"], "default radius 10 km");
    let (_, body) = send(
        app.get(&format!(
            "/api/v1/records/search/nearby?latitude={}&longitude={}&radius=7000&media_type=image",
            HYDERABAD.0, HYDERABAD.1
        ))
        .header("Authorization", &auth),
    )
    .await;
    assert_eq!(titles(&body), ["sec"]);
    let (_, body) = send(
        app.get(&format!(
            "/api/v1/records/search/nearby?latitude={}&longitude={}&radius=7000&category_id={cat}",
            HYDERABAD.0, HYDERABAD.1
        ))
        .header("Authorization", &auth),
    )
    .await;
    assert_eq!(titles(&body), ["hyd"]);
    for bad in [
        "latitude=91&longitude=0",
        "latitude=0&longitude=0&distance_meters=0",
        "latitude=0&longitude=0&radius=60000",
        "longitude=0",
    ] {
        let (status, _) =
            send(app.get(&format!("/api/v1/records/search/nearby?{bad}")).header("Authorization", &auth)).await;
        assert_eq!(status, 422, "{bad}");
    }

    // distance: real metres, with and without a maximum.
    let (status, body) = send(
        app.get(&format!("/api/v1/records/search/distance?latitude={}&longitude={}", HYDERABAD.0, HYDERABAD.1))
            .header("Authorization", &auth),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let list = body.as_array().unwrap();
    assert_eq!(list.len(), 4, "every located record");
    assert_eq!(list[0]["record"]["title"], "hyd");
    assert!(list[0]["distance_meters"].as_f64().unwrap() < 1.0);
    let d = list[1]["distance_meters"].as_f64().unwrap();
    assert_eq!(list[1]["record"]["uid"], sec["uid"]);
    assert!((6000.0..6400.0).contains(&d), "Hyderabad–Secunderabad is ≈6.2 km, got {d}");
    assert_eq!(list[1]["distance_km"].as_f64().unwrap(), (d / 10.0).round() / 100.0);
    assert_eq!(list[3]["record"]["title"], "delhi");
    let (_, body) = send(
        app.get(&format!(
            "/api/v1/records/search/distance?latitude={}&longitude={}&max_distance_meters=10000",
            HYDERABAD.0, HYDERABAD.1
        ))
        .header("Authorization", &auth),
    )
    .await;
    assert_eq!(body.as_array().unwrap().len(), 2);
    let (_, body) = send(
        app.get(&format!(
            "/api/v1/records/search/distance?latitude={}&longitude={}&media_type=audio",
            HYDERABAD.0, HYDERABAD.1
        ))
        .header("Authorization", &auth),
    )
    .await;
    assert_eq!(body.as_array().unwrap().len(), 1);
    let (_, body) = send(
        app.get(&format!(
            "/api/v1/records/search/distance?latitude={}&longitude={}&limit=1&skip=1",
            HYDERABAD.0, HYDERABAD.1
        ))
        .header("Authorization", &auth),
    )
    .await;
    assert_eq!(body[0]["record"]["title"], "sec");

    // bbox: boundary points included; min ≥ max → 400.
    let (status, body) = send(
        app.get("/api/v1/records/search/bbox?min_lat=17.0&max_lat=17.44&min_lng=78.0&max_lng=78.5")
            .header("Authorization", &auth),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let mut got = titles(&body);
    got.sort();
    assert_eq!(got, ["corner", "hyd", "sec"]);
    let (_, body) = send(
        app.get(
            "/api/v1/records/search/bbox?min_lat=17.0&max_lat=17.4399&min_lng=78.0&max_lng=78.4983&category_id="
                .to_owned()
                .as_str(),
        )
        .header("Authorization", &auth),
    )
    .await;
    assert_eq!(body.as_array().unwrap().len(), 3, "a point exactly on the north-east corner is inside");
    let (status, body) = send(
        app.get("/api/v1/records/search/bbox?min_lat=18&max_lat=17&min_lng=78&max_lng=79")
            .header("Authorization", &auth),
    )
    .await;
    assert_eq!(
        (status, body["detail"].as_str()),
        (400, Some("Invalid bounding box: min coordinates must be less than max coordinates"))
    );

    // GeoJSON on request.
    let response = app
        .get("/api/v1/records/search/bbox?min_lat=17.0&max_lat=17.44&min_lng=78.0&max_lng=78.5")
        .header("Authorization", &auth)
        .header("Accept", "application/geo+json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["content-type"], "application/geo+json");
    let fc: Value = response.json().await.unwrap();
    assert_eq!(fc["type"], "FeatureCollection");
    assert_eq!(fc["features"].as_array().unwrap().len(), 3);
    assert_eq!(fc["features"][0]["geometry"]["type"], "Point");

    // Contributors search their own records only.
    let bob = app.contributor().await;
    let (status, body) = send(
        app.get(&format!("/api/v1/records/search/nearby?latitude={}&longitude={}", HYDERABAD.0, HYDERABAD.1))
            .header("Authorization", bob.bearer()),
    )
    .await;
    assert_eq!((status, body.as_array().unwrap().len()), (200, 0));
    let _ = hyd;
}

#[tokio::test]
async fn record_review_and_queue_never_hand_out_a_record_twice() {
    let app = TestApp::spawn().await;
    let (r1, r2, user) = (app.reviewer().await, app.reviewer().await, app.contributor().await);
    let cat = category(&app, "people").await;
    let mut ids = Vec::new();
    for i in 0..6 {
        let media = if i % 2 == 0 { "audio" } else { "text" };
        ids.push(create(&app, &user, json!({"title": format!("r{i}"), "media_type": media, "category_id": cat})).await["uid"].as_str().unwrap().to_owned());
    }
    // Contributors cannot review.
    let (status, _) = send(
        app.post(&format!("/api/v1/records/{}/review", ids[0]))
            .header("Authorization", user.bearer())
            .json(&json!({"decision": "approve"})),
    )
    .await;
    assert_eq!(status, 403);
    let (status, _) = send(app.get("/api/v1/records/review/queue").header("Authorization", user.bearer())).await;
    assert_eq!(status, 403);

    // Two reviewers at the same time get different records, oldest first.
    let (a, b) = tokio::join!(
        send(app.get("/api/v1/records/review/queue?limit=2").header("Authorization", r1.bearer())),
        send(app.get("/api/v1/records/review/queue?limit=2").header("Authorization", r2.bearer())),
    );
    assert_eq!((a.0, b.0), (200, 200));
    let mut all: Vec<String> =
        a.1.as_array()
            .unwrap()
            .iter()
            .chain(b.1.as_array().unwrap())
            .map(|r| r["uid"].as_str().unwrap().to_owned())
            .collect();
    assert_eq!(all.len(), 4);
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 4, "no record handed to both");
    // Asking again returns the caller's own claims first, not others'.
    let (_, again) = send(app.get("/api/v1/records/review/queue?limit=2").header("Authorization", r1.bearer())).await;
    assert_eq!(again, a.1);
    // Filter by media type.
    let (_, audio) = send(
        app.get("/api/v1/records/review/queue?limit=10&media_type=audio")
            .header("Authorization", app.admin().await.bearer()),
    )
    .await;
    assert!(audio.as_array().unwrap().iter().all(|r| r["media_type"] == "audio"));

    // Review stamps fields and takes the record out of the queue.
    let target = a.1[0]["uid"].as_str().unwrap();
    let (status, body) = send(
        app.post(&format!("/api/v1/records/{target}/review"))
            .header("Authorization", r1.bearer())
            .json(&json!({"decision": "reject", "note": "noisy"})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (
            body["reviewed"].as_bool(),
            body["status"].as_str(),
            body["review_status"].as_str(),
            body["review_note"].as_str()
        ),
        (Some(true), Some("rejected"), Some("rejected"), Some("noisy"))
    );
    assert_eq!(body["reviewed_by"], json!(r1.id));
    let (_, again) = send(app.get("/api/v1/records/review/queue?limit=10").header("Authorization", r1.bearer())).await;
    assert!(again.as_array().unwrap().iter().all(|r| r["uid"] != target));
    let (status, _) = send(
        app.post(&format!("/api/v1/records/{target}/review"))
            .header("Authorization", r1.bearer())
            .json(&json!({"decision": "maybe"})),
    )
    .await;
    assert_eq!(status, 422);
    let (status, _) = send(
        app.post(&format!("/api/v1/records/{}/review", Uuid::new_v4()))
            .header("Authorization", r1.bearer())
            .json(&json!({"decision": "approve"})),
    )
    .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn record_review_queue_gives_every_concurrent_reviewer_a_full_distinct_batch() {
    let app = TestApp::spawn().await;
    let user = app.contributor().await;
    let cat = category(&app, "places").await;
    for i in 0..12 {
        create(&app, &user, json!({"title": format!("q{i}"), "media_type": "text", "category_id": cat})).await;
    }
    let mut reviewers = Vec::new();
    for _ in 0..5 {
        reviewers.push(app.reviewer().await);
    }
    let answers = futures::future::join_all(
        reviewers
            .iter()
            .map(|r| send(app.get("/api/v1/records/review/queue?limit=2").header("Authorization", r.bearer()))),
    )
    .await;
    let mut all = Vec::new();
    for (status, body) in answers {
        assert_eq!(status, 200, "{body}");
        let batch = body.as_array().unwrap();
        assert_eq!(batch.len(), 2, "each reviewer gets a full batch while records remain: {body}");
        all.extend(batch.iter().map(|r| r["uid"].as_str().unwrap().to_owned()));
    }
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 10, "no record handed to two reviewers");
}

#[tokio::test]
async fn record_nearby_pages_nearest_first_and_cuts_exactly_at_the_radius() {
    let app = TestApp::spawn().await;
    let user = app.contributor().await;
    let cat = category(&app, "places").await;
    // Points at known spheroid distances from Hyderabad, in several directions, including two
    // just inside and just outside a 10 km radius.
    let distances = [500.0, 1500.0, 2500.0, 3500.0, 4500.0, 5500.0, 6500.0, 7500.0, 8500.0, 9990.0, 10_010.0, 15_000.0];
    for (i, d) in distances.iter().enumerate() {
        sqlx::query(
            "INSERT INTO record (user_id, category_id, title, media_type, location)
             VALUES ($1, $2, $3, 'text', ST_Project(ST_SetSRID(ST_MakePoint($4, $5), 4326)::geography, $6, radians($7))::geometry)",
        )
        .bind(user.id)
        .bind(cat)
        .bind(format!("{d}"))
        .bind(HYDERABAD.1)
        .bind(HYDERABAD.0)
        .bind(d)
        .bind((i * 47 % 360) as f64)
        .execute(app.pool())
        .await
        .unwrap();
    }
    let mut titles = Vec::new();
    for page in 0..4 {
        let (status, body) = send(
            app.get(&format!(
                "/api/v1/records/search/nearby?latitude={}&longitude={}&radius=10000&limit=3&skip={}",
                HYDERABAD.0,
                HYDERABAD.1,
                page * 3
            ))
            .header("Authorization", user.bearer()),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        titles.extend(body.as_array().unwrap().iter().map(|r| r["title"].as_str().unwrap().to_owned()));
    }
    let expected: Vec<String> = distances.iter().filter(|d| **d <= 10_000.0).map(|d| format!("{d}")).collect();
    assert_eq!(titles, expected, "every point within 10 km, nearest first, across pages; none beyond");
}

#[tokio::test]
async fn record_nearby_works_at_the_antimeridian_and_the_poles() {
    let app = TestApp::spawn().await;
    let user = app.contributor().await;
    let cat = category(&app, "edges").await;
    for (title, lon, lat) in [
        ("east", 179.99, 17.385),
        ("west", -179.99, 17.385),
        ("dateline", 180.0, 17.385),
        ("north pole", 0.0, 90.0),
        ("south pole", 180.0, -90.0),
        ("equator", 180.0, 0.0),
    ] {
        create(
            &app,
            &user,
            json!({"title": title, "media_type": "text", "category_id": cat, "latitude": lat, "longitude": lon}),
        )
        .await;
    }
    for (lat, lon, radius, expected) in [
        // ≈1.06 km each side of the 180° meridian: both sides are found, nearest first.
        (17.385, 180.0, 5000, vec!["dateline", "east", "west"]),
        (17.385, -180.0, 5000, vec!["dateline", "east", "west"]),
        (-90.0, -180.0, 50_000, vec!["south pole"]),
        (90.0, 180.0, 50_000, vec!["north pole"]),
    ] {
        let (status, body) = send(
            app.get(&format!("/api/v1/records/search/nearby?latitude={lat}&longitude={lon}&radius={radius}"))
                .header("Authorization", user.bearer()),
        )
        .await;
        assert_eq!(status, 200, "({lat}, {lon}): {body}");
        let mut titles: Vec<&str> = body.as_array().unwrap().iter().map(|r| r["title"].as_str().unwrap()).collect();
        assert_eq!(titles.remove(0), expected[0], "({lat}, {lon}) nearest first: {body}");
        titles.sort();
        let mut rest = expected[1..].to_vec();
        rest.sort();
        assert_eq!(titles, rest, "({lat}, {lon})");
    }
}
