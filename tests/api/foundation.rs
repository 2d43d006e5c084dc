//! Root, health, readiness, documentation, error envelope and routing behaviour.

use serde_json::json;

use crate::helpers::{TestApp, send};

#[tokio::test]
async fn root_answers_the_welcome_document() {
    let app = TestApp::spawn().await;
    let (status, body) = send(app.get("/")).await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({"message": "Welcome to Telugu Corpus Collections API", "version": "0.1.0", "docs": "/docs"})
    );
}

#[tokio::test]
async fn health_answers_healthy() {
    let app = TestApp::spawn().await;
    let (status, body) = send(app.get("/health")).await;
    assert_eq!((status, body), (200, json!({"status": "healthy"})));
}

#[tokio::test]
async fn readiness_checks_database_and_storage() {
    let app = TestApp::spawn().await;
    let (status, body) = send(app.get("/health/ready")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "ready");
    assert_eq!(body["database"]["status"], "ok");
    assert_eq!(body["storage"]["status"], "ok");
}

#[tokio::test]
async fn readiness_is_503_when_the_database_is_gone() {
    let app = TestApp::spawn().await;
    sqlx::query(&format!("DROP DATABASE {} WITH (FORCE)", corpus_te::db::quote_ident(&app.db.name)))
        .execute(&mut sqlx::Connection::connect_with(&crate::helpers::options_for("postgres")).await.unwrap()
            as &mut sqlx::PgConnection)
        .await
        .unwrap();
    let (status, body) = send(app.get("/health/ready")).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["status"], "not_ready");
    assert_eq!(body["database"]["status"], "error");
    assert_eq!(body["storage"]["status"], "ok");
}
