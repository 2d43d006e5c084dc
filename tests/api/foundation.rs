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
    crate::helpers::drop_database_now(&app.db.name).await;
    let (status, body) = send(app.get("/health/ready")).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["status"], "not_ready");
    assert_eq!(body["database"]["status"], "error");
    assert_eq!(body["storage"]["status"], "ok");
}

#[tokio::test]
async fn openapi_document_is_served_with_the_bearer_scheme() {
    let app = TestApp::spawn().await;
    let (status, doc) = send(app.get("/api/v1/openapi.json")).await;
    assert_eq!(status, 200);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    assert_eq!(doc["info"]["title"], "Telugu Corpus Collections API");
    assert_eq!(doc["components"]["securitySchemes"]["HTTPBearer"]["scheme"], "bearer");
    assert!(doc["paths"]["/health"]["get"].is_object());
    // The original's document lives under /api/v1 only.
    assert_eq!(send(app.get("/openapi.json")).await.0, 404);
}

#[tokio::test]
async fn swagger_ui_and_redoc_are_served_from_the_binary() {
    let app = TestApp::spawn().await;
    let docs = app.get("/docs/").send().await.unwrap();
    assert_eq!(docs.status(), 200);
    let html = docs.text().await.unwrap();
    assert!(html.contains("swagger-ui"), "{html}");
    // Every script the page loads is local (no CDN): fetch them all.
    for script in ["swagger-ui-bundle.js", "swagger-ui-standalone-preset.js", "swagger-initializer.js"] {
        let response = app.get(&format!("/docs/{script}")).send().await.unwrap();
        assert_eq!(response.status(), 200, "{script}");
        let body = response.text().await.unwrap();
        assert!(body.len() > 100, "{script} is served");
        if script == "swagger-initializer.js" {
            assert!(body.contains("/api/v1/openapi.json"), "{body}");
        }
    }
    let bare = app.get("/docs").send().await.unwrap();
    assert!(bare.status().is_success() || bare.status().is_redirection());
    assert_eq!(app.get("/docs/oauth2-redirect").send().await.unwrap().status(), 200);

    let redoc = app.get("/redoc").send().await.unwrap();
    assert_eq!(redoc.status(), 200);
    let html = redoc.text().await.unwrap();
    assert!(html.contains("spec-url=\"/api/v1/openapi.json\"") && html.contains("src=\"/redoc/redoc.standalone.js\""));
    assert!(!html.contains("cdn."), "no CDN reference: {html}");
    let js = app.get("/redoc/redoc.standalone.js").send().await.unwrap();
    assert_eq!(js.status(), 200);
    assert!(js.bytes().await.unwrap().len() > 500_000);
}

#[tokio::test]
async fn unknown_paths_and_methods_answer_the_original_envelope() {
    let app = TestApp::spawn().await;
    assert_eq!(send(app.get("/api/v1/nothing-here")).await, (404, json!({"detail": "Not Found"})));
    assert_eq!(send(app.post("/health")).await, (405, json!({"detail": "Method Not Allowed"})));
}

#[tokio::test]
async fn api_paths_answer_with_and_without_a_trailing_slash_without_redirecting() {
    let app = TestApp::spawn().await;
    let (status, doc) = send(app.get("/api/v1/openapi.json/")).await;
    assert_eq!(status, 200, "no 307: {doc}");
    assert!(doc["openapi"].is_string());
}

#[tokio::test]
async fn every_response_carries_a_request_id_and_keeps_the_callers() {
    let app = TestApp::spawn().await;
    let generated = app.get("/health").send().await.unwrap();
    let id = generated.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(id.len(), 36, "a UUID: {id}");
    let kept = app.get("/health").header("x-request-id", "abc-123").send().await.unwrap();
    assert_eq!(kept.headers()["x-request-id"], "abc-123");
}

#[tokio::test]
async fn cors_allows_any_origin_without_credentials_by_default() {
    let app = TestApp::spawn().await;
    let preflight = app
        .request(reqwest::Method::OPTIONS, "/api/v1/openapi.json")
        .header("origin", "https://app.example.org")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "authorization,content-type")
        .send()
        .await
        .unwrap();
    assert!(preflight.status().is_success());
    assert_eq!(preflight.headers()["access-control-allow-origin"], "*");
    assert!(preflight.headers().get("access-control-allow-credentials").is_none(), "never * with credentials");
    assert_eq!(preflight.headers()["access-control-max-age"], "600");
}

#[tokio::test]
async fn cors_honours_the_configured_origins_with_credentials() {
    let app = TestApp::spawn_with(|c| c.http.backend_cors_origins = "https://corpus.example.org".into()).await;
    let allowed = app.get("/health").header("origin", "https://corpus.example.org").send().await.unwrap();
    assert_eq!(allowed.headers()["access-control-allow-origin"], "https://corpus.example.org");
    assert_eq!(allowed.headers()["access-control-allow-credentials"], "true");
    let other = app.get("/health").header("origin", "https://evil.example.com").send().await.unwrap();
    assert!(other.headers().get("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn nul_characters_anywhere_get_a_4xx_never_a_500() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let auth = admin.bearer();
    // In a path segment.
    let (status, body) = send(app.get("/api/v1/users/phone/%2B91%00").header("authorization", &auth)).await;
    assert_eq!((status, body), (404, json!({"detail": "Not Found"})));
    // In a JSON body (PostgreSQL text cannot hold NUL).
    let (status, body) = send(
        app.post("/api/v1/categories/").header("authorization", &auth).json(&json!({"name": "a\u{0}b", "title": "T"})),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["errors"][0]["type"], "string_nul");
    assert_eq!(body["errors"][0]["loc"], json!(["body", "name"]));
    // In a query string.
    let (status, body) = send(app.get("/api/v1/users/?phone=%00").header("authorization", &auth)).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["errors"][0]["loc"], json!(["query", "phone"]));
}

#[tokio::test]
async fn readiness_checks_redis_when_rate_limits_live_there() {
    let with_redis = TestApp::spawn_with(|c| c.limits.redis_url = Some("redis://127.0.0.1:6379/0".into())).await;
    let (status, body) = send(with_redis.get("/health/ready")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["redis"]["status"], "ok");

    // Nothing listens on port 1: Redis is down. Redis is shared by every replica, so the replica
    // stays in the pool, degraded (issue 13: one Redis blip must not empty the pool).
    let down = TestApp::spawn_with(|c| c.limits.redis_url = Some("redis://127.0.0.1:1/0".into())).await;
    let (status, body) = send(down.get("/health/ready")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "degraded");
    assert_eq!(body["redis"]["status"], "error");
    assert_eq!(body["database"]["status"], "ok");

    let without = TestApp::spawn().await;
    let (_, body) = send(without.get("/health/ready")).await;
    assert!(body.get("redis").is_none(), "no Redis configured, none reported: {body}");
}
