//! Categories over HTTP: ordering, visibility, validation, field-by-field update, delete rules.

use serde_json::json;

use crate::helpers::{TestApp, send};

#[tokio::test]
async fn categories_crud_ordering_visibility_and_validation() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let user = app.contributor().await;

    // Anonymous: 403 Not authenticated.
    let (status, body) = send(app.get("/api/v1/categories/")).await;
    assert_eq!((status, body["detail"].as_str()), (403, Some("Not authenticated")));

    for (name, rank, published) in [("zeta", 1, true), ("alpha", 2, true), ("beta", 1, true), ("hidden", 0, false)] {
        let (status, body) = send(
            app.post("/api/v1/categories/")
                .header("Authorization", admin.bearer())
                .json(&json!({"name": name, "title": name.to_uppercase(), "rank": rank, "published": published,
                    "id": "00000000-0000-0000-0000-000000000001"})),
        )
        .await;
        assert_eq!(status, 201, "{body}");
        assert_ne!(body["id"], "00000000-0000-0000-0000-000000000001", "client ids are ignored");
        assert!(body["created_at"].as_str().unwrap().ends_with('Z'));
    }
    // Contributors cannot create.
    let (status, _) = send(
        app.post("/api/v1/categories").header("Authorization", user.bearer()).json(&json!({"name": "x", "title": "X"})),
    )
    .await;
    assert_eq!(status, 403);

    let (status, body) = send(app.get("/api/v1/categories").header("Authorization", admin.bearer())).await;
    assert_eq!(status, 200);
    let names: Vec<&str> = body.as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["hidden", "beta", "zeta", "alpha"]);
    let (_, body) = send(app.get("/api/v1/categories/").header("Authorization", user.bearer())).await;
    let names: Vec<&str> = body.as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["beta", "zeta", "alpha"], "non-admins see published only");

    // Duplicate name → 400 with the original's message; invalid fields → 422.
    let (status, body) = send(
        app.post("/api/v1/categories/")
            .header("Authorization", admin.bearer())
            .json(&json!({"name": "beta", "title": "B"})),
    )
    .await;
    assert_eq!((status, body["detail"].as_str()), (400, Some("Category with this name already exists")));
    for bad in [
        json!({"title": "T"}),
        json!({"name": "", "title": "T"}),
        json!({"name": "n", "title": "x".repeat(201)}),
        json!({"name": "n", "title": "T", "rank": "high"}),
        json!({"name": "   ", "title": "T"}),
    ] {
        let (status, body) =
            send(app.post("/api/v1/categories/").header("Authorization", admin.bearer()).json(&bad)).await;
        assert_eq!(status, 422, "{bad} → {body}");
        assert_eq!(body["detail"], "Validation error");
    }

    // Get: unknown and non-UUID ids are 404; unpublished is hidden from contributors.
    let hidden_id = sqlx::query_scalar::<_, uuid::Uuid>("SELECT id FROM category WHERE name = 'hidden'")
        .fetch_one(app.pool())
        .await
        .unwrap();
    let (status, _) =
        send(app.get(&format!("/api/v1/categories/{hidden_id}")).header("Authorization", user.bearer())).await;
    assert_eq!(status, 404);
    let (status, body) =
        send(app.get(&format!("/api/v1/categories/{hidden_id}")).header("Authorization", admin.bearer())).await;
    assert_eq!((status, body["name"].as_str()), (200, Some("hidden")));
    let (status, body) = send(app.get("/api/v1/categories/not-a-uuid").header("Authorization", admin.bearer())).await;
    assert_eq!((status, body["detail"].as_str()), (404, Some("Category not found")));

    // PUT applies every given field and maintains updated_at.
    let before = body_of(&app, &admin, hidden_id).await;
    let (status, body) = send(
        app.put(&format!("/api/v1/categories/{hidden_id}"))
            .header("Authorization", admin.bearer())
            .json(&json!({"title": "Now visible", "published": true, "rank": 7, "description": "d"})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (body["title"].as_str(), body["published"].as_bool(), body["rank"].as_i64()),
        (Some("Now visible"), Some(true), Some(7))
    );
    assert_eq!(body["name"], "hidden", "absent fields are kept");
    assert_ne!(body["updated_at"], before["updated_at"]);
    let (status, _) = send(
        app.put(&format!("/api/v1/categories/{hidden_id}"))
            .header("Authorization", admin.bearer())
            .json(&json!({"name": null})),
    )
    .await;
    assert_eq!(status, 422);
    let (status, _) = send(
        app.put(&format!("/api/v1/categories/{hidden_id}"))
            .header("Authorization", admin.bearer())
            .json(&json!({"name": "beta"})),
    )
    .await;
    assert_eq!(status, 400);

    // Delete: 409 while a record uses it, 200 after.
    sqlx::query("INSERT INTO record (user_id, category_id, title, media_type) VALUES ($1, $2, 't', 'text')")
        .bind(user.id)
        .bind(hidden_id)
        .execute(app.pool())
        .await
        .unwrap();
    let (status, _) =
        send(app.delete(&format!("/api/v1/categories/{hidden_id}")).header("Authorization", admin.bearer())).await;
    assert_eq!(status, 409);
    sqlx::query("DELETE FROM record").execute(app.pool()).await.unwrap();
    let (status, body) =
        send(app.delete(&format!("/api/v1/categories/{hidden_id}")).header("Authorization", admin.bearer())).await;
    assert_eq!((status, body["message"].as_str()), (200, Some("Category deleted successfully")));
    let (status, _) =
        send(app.delete(&format!("/api/v1/categories/{hidden_id}")).header("Authorization", admin.bearer())).await;
    assert_eq!(status, 404);
}

async fn body_of(app: &TestApp, admin: &crate::helpers::accounts::TestUser, id: uuid::Uuid) -> serde_json::Value {
    send(app.get(&format!("/api/v1/categories/{id}")).header("Authorization", admin.bearer())).await.1
}
