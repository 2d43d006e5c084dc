//! The records list cache: a page asked for again is answered from memory, and every change to
//! records is seen at once by the replica that made it (through its API) and within a second by
//! every other replica, whoever made it (the API, plain SQL).

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use uuid::Uuid;

use crate::{
    helpers::{TestApp, accounts::TestUser, send},
    records_crud::{category, create},
};

/// The page the tests read: the two newest records.
const PAGE: &str = "/api/v1/records/?limit=2";

/// `GET path` as `user`: the status, the `X-Next-Cursor` header and the body.
async fn list(app: &TestApp, user: &TestUser, path: &str) -> (Option<String>, Value) {
    let response = app.get(path).header("Authorization", user.bearer()).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    let cursor = response.headers().get("x-next-cursor").map(|v| v.to_str().unwrap().to_owned());
    (cursor, response.json().await.unwrap())
}

fn titles(page: &Value) -> Vec<&str> {
    page.as_array().unwrap().iter().map(|r| r["title"].as_str().unwrap()).collect()
}

/// Changes a record's title without announcing it (triggers off for this session), as only a
/// cache would fail to notice.
async fn quietly_retitle(app: &TestApp, uid: &str, title: &str) {
    let mut quiet = app.pool().begin().await.unwrap();
    sqlx::query("SET LOCAL session_replication_role = replica").execute(&mut *quiet).await.unwrap();
    sqlx::query("UPDATE record SET title = $2 WHERE uid = $1")
        .bind(Uuid::parse_str(uid).unwrap())
        .bind(title)
        .execute(&mut *quiet)
        .await
        .unwrap();
    quiet.commit().await.unwrap();
}

/// Reads `PAGE` until it is served from memory: a quiet change to its newest record does not
/// show. Notifications of earlier writes may still be on their way and empty the cache; once a
/// page outlives a quiet change, none is. Returns the page as held (the database now has the
/// newest record titled as the second element says).
async fn warm(app: &TestApp, user: &TestUser) -> (Value, String) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, held) = list(app, user, PAGE).await;
        let newest = held[0]["uid"].as_str().unwrap().to_owned();
        let quiet_title = format!("quiet {}", Uuid::new_v4());
        quietly_retitle(app, &newest, &quiet_title).await;
        let (_, again) = list(app, user, PAGE).await;
        if again == held {
            return (held, quiet_title);
        }
        assert!(Instant::now() < deadline, "the page was never served from memory");
    }
}

/// Reads `path` until `expected` titles show, for at most a second.
async fn within_a_second(app: &TestApp, user: &TestUser, path: &str, expected: &[&str]) {
    let deadline = Instant::now() + Duration::from_secs(1);
    loop {
        let (_, page) = list(app, user, path).await;
        if titles(&page) == expected {
            return;
        }
        assert!(Instant::now() < deadline, "after a second {path} still shows {:?}, not {expected:?}", titles(&page));
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn text_record(app: &TestApp, user: &TestUser, category: Uuid, title: &str) -> String {
    let record = create(app, user, json!({"title": title, "media_type": "text", "category_id": category})).await;
    record["uid"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_page_is_answered_from_memory_until_a_write_through_this_process() {
    let app = TestApp::spawn().await;
    app.until_listening().await;
    let admin = app.admin().await;
    let cat = category(&app, "cached").await;
    let first = text_record(&app, &admin, cat, "first").await;
    let second = text_record(&app, &admin, cat, "second").await;
    let third = text_record(&app, &admin, cat, "third").await;

    let (held, quiet_title) = warm(&app, &admin).await;
    assert_eq!(titles(&held), ["third", "second"]);
    // The answer from memory is the answer from the database: same body, same cursor header.
    let (cursor, again) = list(&app, &admin, PAGE).await;
    assert_eq!(again, held);
    let cursor = cursor.expect("a third record follows");
    // Another query is another page, read from the database.
    let (_, three) = list(&app, &admin, "/api/v1/records/?limit=3").await;
    assert_eq!(titles(&three), [quiet_title.as_str(), "second", "first"]);
    // So is the next page, through the cursor the held page gave.
    let (_, next) = list(&app, &admin, &format!("{PAGE}&cursor={cursor}")).await;
    assert_eq!(titles(&next), ["first"]);

    // A change through the API shows on the next request, with the quiet change it reads along.
    let (status, body) = send(
        app.patch(&format!("/api/v1/records/{second}"))
            .header("Authorization", admin.bearer())
            .json(&json!({"title": "loud"})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (_, page) = list(&app, &admin, PAGE).await;
    assert_eq!(titles(&page), [quiet_title.as_str(), "loud"]);

    let (status, body) =
        send(app.delete(&format!("/api/v1/records/{third}")).header("Authorization", admin.bearer())).await;
    assert_eq!(status, 200, "{body}");
    let (cursor, page) = list(&app, &admin, PAGE).await;
    assert_eq!(titles(&page), ["loud", "first"]);
    assert_eq!(page[1]["uid"].as_str(), Some(first.as_str()));
    assert!(cursor.is_some(), "a full page carries a cursor");
}

#[tokio::test]
async fn changes_made_in_sql_empty_the_cache_within_a_second() {
    let app = TestApp::spawn().await;
    app.until_listening().await;
    let admin = app.admin().await;
    let cat = category(&app, "cached").await;
    text_record(&app, &admin, cat, "older").await;
    let newest = text_record(&app, &admin, cat, "newest").await;
    let (_, quiet_title) = warm(&app, &admin).await;

    sqlx::query("UPDATE record SET title = 'by sql' WHERE uid = $1")
        .bind(Uuid::parse_str(&newest).unwrap())
        .execute(app.pool())
        .await
        .unwrap();
    assert_ne!(quiet_title, "by sql");
    within_a_second(&app, &admin, PAGE, &["by sql", "older"]).await;

    // A statement over many rows, and TRUNCATE, are announced too.
    warm(&app, &admin).await;
    sqlx::query("UPDATE record SET title = 'all' WHERE category_id = $1").bind(cat).execute(app.pool()).await.unwrap();
    within_a_second(&app, &admin, PAGE, &["all", "all"]).await;
    warm(&app, &admin).await;
    sqlx::query("TRUNCATE record CASCADE").execute(app.pool()).await.unwrap();
    within_a_second(&app, &admin, PAGE, &[]).await;
}

#[tokio::test]
async fn callers_who_see_different_records_never_share_a_page() {
    let app = TestApp::spawn().await;
    app.until_listening().await;
    let (admin, alice, bob) = (app.admin().await, app.contributor().await, app.contributor().await);
    let cat = category(&app, "cached").await;
    text_record(&app, &alice, cat, "alice's").await;
    text_record(&app, &bob, cat, "bob's").await;
    // Each asks twice with the same query: the second answer may come from memory.
    for _ in 0..2 {
        assert_eq!(titles(&list(&app, &alice, PAGE).await.1), ["alice's"]);
        assert_eq!(titles(&list(&app, &bob, PAGE).await.1), ["bob's"]);
        assert_eq!(titles(&list(&app, &admin, PAGE).await.1), ["bob's", "alice's"]);
    }
}

#[tokio::test]
async fn with_the_cache_off_every_page_is_read_from_the_database() {
    let app = TestApp::spawn_with(|c| c.http.record_list_cache_seconds = 0).await;
    let admin = app.admin().await;
    let cat = category(&app, "uncached").await;
    let only = text_record(&app, &admin, cat, "before").await;
    assert_eq!(titles(&list(&app, &admin, PAGE).await.1), ["before"]);
    quietly_retitle(&app, &only, "after").await;
    assert_eq!(titles(&list(&app, &admin, PAGE).await.1), ["after"]);
    assert!(!app.record_pages.is_enabled());
}

#[tokio::test]
async fn a_write_through_one_replica_shows_there_at_once_and_on_the_other_within_a_second() {
    let a = TestApp::spawn().await;
    let b = a.spawn_replica(|_| {}).await;
    a.until_listening().await;
    b.until_listening().await;
    let admin = a.admin().await;
    let cat = category(&a, "cached").await;
    text_record(&a, &admin, cat, "one").await;
    let two = text_record(&a, &admin, cat, "two").await;
    warm(&a, &admin).await;
    let (_, quiet_on_b) = warm(&b, &admin).await;

    // Created through A: A shows it on the next request, B once the notification arrives.
    text_record(&a, &admin, cat, "three").await;
    let (_, page) = list(&a, &admin, PAGE).await;
    assert_eq!(titles(&page), ["three", quiet_on_b.as_str()]);
    within_a_second(&b, &admin, PAGE, &["three", quiet_on_b.as_str()]).await;

    // Changed through B: the other way round.
    let (_, quiet_on_a) = warm(&a, &admin).await;
    let (status, body) = send(
        b.patch(&format!("/api/v1/records/{two}")).header("Authorization", admin.bearer()).json(&json!({"title": "2"})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (_, page) = list(&b, &admin, PAGE).await;
    assert_eq!(titles(&page), [quiet_on_a.as_str(), "2"]);
    within_a_second(&a, &admin, PAGE, &[quiet_on_a.as_str(), "2"]).await;
}
