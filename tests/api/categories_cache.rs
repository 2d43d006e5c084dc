//! The category lists are answered from memory, and every change to categories is seen at once
//! by the replica that made it (through its API) and within a second by every other replica,
//! whoever made it (the API, plain SQL); admins and others never share a list.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{TestApp, accounts::TestUser, send};

const LIST: &str = "/api/v1/categories/";

/// The categories `user` is shown, in order: (name, title).
async fn shown(app: &TestApp, user: &TestUser) -> Vec<(String, String)> {
    let response = app.get(LIST).header("Authorization", user.bearer()).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    let body: Value = response.json().await.unwrap();
    let field = |c: &Value, key: &str| c[key].as_str().unwrap().to_owned();
    body.as_array().unwrap().iter().map(|c| (field(c, "name"), field(c, "title"))).collect()
}

fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    expected.iter().map(|(name, title)| (name.to_string(), title.to_string())).collect()
}

/// Gives every category the title `title` without announcing it (triggers off for this session),
/// as only a cache would fail to notice.
async fn quietly_retitle_all(app: &TestApp, title: &str) {
    let mut quiet = app.pool().begin().await.unwrap();
    sqlx::query("SET LOCAL session_replication_role = replica").execute(&mut *quiet).await.unwrap();
    sqlx::query("UPDATE category SET title = $1").bind(title).execute(&mut *quiet).await.unwrap();
    quiet.commit().await.unwrap();
}

/// Reads the list until it is served from memory: a quiet change (a new title for every
/// category) does not show. Notifications of earlier writes may still be on their way and empty
/// the cache; once a list outlives a quiet change, none is. Returns the title every category now
/// has in the database.
async fn warm(app: &TestApp, user: &TestUser) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let held = shown(app, user).await;
        let quiet = format!("quiet {}", Uuid::new_v4());
        quietly_retitle_all(app, &quiet).await;
        if shown(app, user).await == held {
            return quiet;
        }
        assert!(Instant::now() < deadline, "the list was never served from memory");
    }
}

/// Reads the list until `expected` shows, for at most a second.
async fn within_a_second(app: &TestApp, user: &TestUser, expected: &[(&str, &str)]) {
    let deadline = Instant::now() + Duration::from_secs(1);
    loop {
        let list = shown(app, user).await;
        if list == pairs(expected) {
            return;
        }
        assert!(Instant::now() < deadline, "after a second the list still shows {list:?}, not {expected:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn create(app: &TestApp, admin: &TestUser, name: &str, published: bool) {
    let body = json!({ "name": name, "title": name, "published": published });
    let (status, body) = send(app.post(LIST).header("Authorization", admin.bearer()).json(&body)).await;
    assert_eq!(status, 201, "{body}");
}

#[tokio::test]
async fn the_lists_come_from_memory_until_a_category_changes_anywhere() {
    let a = TestApp::spawn().await;
    let b = a.spawn_replica(|_| {}).await;
    a.until_listening().await;
    b.until_listening().await;
    let (admin, user) = (a.admin().await, a.contributor().await);
    create(&a, &admin, "alpha", true).await;
    warm(&a, &user).await;
    // Writes to other things (a record here) leave the lists held.
    let held = shown(&a, &user).await;
    let alpha: Uuid =
        sqlx::query_scalar("SELECT id FROM category WHERE name = 'alpha'").fetch_one(a.pool()).await.unwrap();
    crate::records_crud::create(&a, &user, json!({"title": "t", "media_type": "text", "category_id": alpha})).await;
    assert_eq!(shown(&a, &user).await, held);
    let quiet = warm(&b, &user).await;

    // Created through A: A shows it (and what the database now holds) on the next request, B
    // once the notification arrives; the unpublished one only to admins.
    create(&a, &admin, "beta", true).await;
    create(&a, &admin, "hidden", false).await;
    assert_eq!(shown(&a, &user).await, pairs(&[("alpha", &quiet), ("beta", "beta")]));
    assert_eq!(shown(&a, &admin).await, pairs(&[("alpha", &quiet), ("beta", "beta"), ("hidden", "hidden")]));
    within_a_second(&b, &user, &[("alpha", &quiet), ("beta", "beta")]).await;

    // Changed in plain SQL: both replicas within a second.
    warm(&a, &user).await;
    let quiet = warm(&b, &user).await;
    sqlx::query("UPDATE category SET title = 'by sql' WHERE name = 'alpha'").execute(a.pool()).await.unwrap();
    within_a_second(&a, &user, &[("alpha", "by sql"), ("beta", &quiet)]).await;
    within_a_second(&b, &user, &[("alpha", "by sql"), ("beta", &quiet)]).await;
}

#[tokio::test]
async fn with_the_cache_off_the_list_is_read_from_the_database() {
    let app = TestApp::spawn_with(|c| c.http.category_cache_seconds = 0).await;
    let (admin, user) = (app.admin().await, app.contributor().await);
    create(&app, &admin, "alpha", true).await;
    assert_eq!(shown(&app, &user).await, pairs(&[("alpha", "alpha")]));
    quietly_retitle_all(&app, "after").await;
    assert_eq!(shown(&app, &user).await, pairs(&[("alpha", "after")]));
    assert!(!app.categories.is_enabled());
}
