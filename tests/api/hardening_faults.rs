//! Answers under faults: Redis down and back, the database unreachable, a full storage disk
//! (simulated by an unwritable probe location), an oversized JSON body.

use std::{
    net::SocketAddr,
    time::{Duration, Instant},
};

use axum::{ServiceExt, extract::Request};
use corpus_te::{db, router, state::AppState};
use reqwest::Response;
use serde_json::json;

use crate::helpers::{json, logs, send, test_config};

/// Sends `request`, timing it; a hang longer than the client timeout fails the test.
async fn timed(request: reqwest::RequestBuilder) -> (Response, Duration) {
    let started = Instant::now();
    let response = request.timeout(Duration::from_secs(10)).send().await.expect("an answer within 10 s, not a hang");
    (response, started.elapsed())
}

/// Serves the application on a pool whose database does not answer (a closed port).
async fn spawn_without_database() -> (String, tempfile::TempDir) {
    logs::init();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let storage = tempfile::tempdir().unwrap();
    let mut config = test_config(&format!("postgres://postgres@127.0.0.1:{port}/corpus_te"), storage.path());
    config.db_acquire_timeout_seconds = 1;
    config.validate().unwrap();
    let pool = db::pool_options(&config).connect_lazy_with(config.pg_options().unwrap());
    let app = router::with_trailing_slash_tolerance(router::build(AppState::new(config, pool).unwrap()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, ServiceExt::<Request>::into_make_service_with_connect_info::<SocketAddr>(app))
            .await
            .unwrap();
    });
    (format!("http://{addr}"), storage)
}

#[tokio::test]
async fn with_the_database_unreachable_requests_answer_503_with_retry_after_not_500() {
    let (base, _storage) = spawn_without_database().await;
    let client = reqwest::Client::new();
    let (response, elapsed) = timed(
        client.post(format!("{base}/api/v1/auth/login")).json(&json!({"phone": "+919876543210", "password": "x"})),
    )
    .await;
    assert_eq!(response.status(), 503);
    assert!(response.headers().contains_key("retry-after"));
    assert!(elapsed < Duration::from_secs(5), "bounded by DB_ACQUIRE_TIMEOUT_SECONDS=1, took {elapsed:?}");
    let (_, body) = json(response).await;
    assert_eq!(body, json!({"detail": "Service temporarily unavailable. Please try again later."}));

    let (status, body) = send(client.get(format!("{base}/health/ready"))).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["database"]["status"], "error");
}
