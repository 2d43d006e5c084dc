//! `GET /metrics` in Prometheus text format, who may read it, and the free disk space that
//! `db status` reports.

use corpus_te::config::Environment;
use serde_json::json;
use uuid::Uuid;

use crate::{
    helpers::{TEST_SECRET, TestApp, cli::run, send},
    records_crud::category,
    records_upload::{chunk, fixture, multipart},
};

/// The value of the sample `series` (name and labels exactly as rendered).
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.trim().parse().ok())
}

async fn scrape(app: &TestApp) -> String {
    let response = app.get("/metrics").send().await.unwrap();
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(content_type.starts_with("text/plain; version=0.0.4"), "{content_type}");
    response.text().await.unwrap()
}

#[tokio::test]
async fn metrics_count_requests_by_route_template_and_status_with_latency_histograms() {
    let app = TestApp::spawn().await;
    let user = app.contributor().await;
    for _ in 0..3 {
        assert_eq!(send(app.get("/health")).await.0, 200);
    }
    // Two different ids, one series: the route template, never the raw path.
    for _ in 0..2 {
        let path = format!("/api/v1/records/{}", Uuid::new_v4());
        assert_eq!(send(app.get(&path).header("Authorization", user.bearer())).await.0, 404);
    }
    assert_eq!(send(app.get("/api/v1/auth/me")).await.0, 403);
    assert_eq!(send(app.get("/no/such/path/4711")).await.0, 404);

    let text = scrape(&app).await;
    let requests = |labels: &str| sample(&text, &format!("corpus_http_requests_total{{{labels}}}"));
    assert_eq!(requests(r#"method="GET",route="/health",status="200""#), Some(3.0), "{text}");
    assert_eq!(requests(r#"method="GET",route="/api/v1/records/{record_id}",status="404""#), Some(2.0), "{text}");
    assert_eq!(requests(r#"method="GET",route="/api/v1/auth/me",status="403""#), Some(1.0), "{text}");
    assert_eq!(requests(r#"method="GET",route="unmatched",status="404""#), Some(1.0), "{text}");
    assert!(!text.contains("4711") && !text.contains("/records/0") && !text.contains(&user.id.to_string()), "{text}");
    let histogram =
        r#"corpus_http_request_duration_seconds_bucket{method="GET",route="/health",status="200",le="+Inf"}"#;
    assert_eq!(sample(&text, histogram), Some(3.0), "{text}");
    let count = r#"corpus_http_request_duration_seconds_count{method="GET",route="/health",status="200"}"#;
    assert_eq!(sample(&text, count), Some(3.0), "{text}");
    assert!(text.contains("# TYPE corpus_http_request_duration_seconds histogram"), "{text}");

    // The pool: at least the connection the requests above used; never more than the limit.
    let max = sample(&text, "corpus_db_pool_max_connections").unwrap();
    let open = sample(&text, "corpus_db_pool_connections").unwrap();
    let idle = sample(&text, "corpus_db_pool_idle_connections").unwrap();
    assert_eq!(max, f64::from(app.config.database.db_pool_size));
    assert!(open >= 1.0 && open <= max && idle <= open, "{open} {idle} {max}");

    // Free space of the storage and spool directories, as the file system reports it.
    let storage = sample(&text, r#"corpus_disk_free_bytes{directory="storage"}"#).unwrap();
    let actual = corpus_te::storage::free_space(app.storage_dir.path()).unwrap() as f64;
    assert!(storage > 0.0 && (storage - actual).abs() / actual < 0.05, "{storage} vs {actual}");
    assert!(sample(&text, r#"corpus_disk_free_bytes{directory="spool"}"#).is_some_and(|v| v > 0.0), "{text}");

    // The scrape itself is counted at the next one.
    let again = scrape(&app).await;
    assert_eq!(sample(&again, r#"corpus_http_requests_total{method="GET",route="/metrics",status="200"}"#), Some(1.0));
}

#[tokio::test]
async fn metrics_count_the_bytes_the_upload_routes_receive() {
    let app = TestApp::spawn().await;
    let user = app.contributor().await;
    let cat = category(&app, "images").await.to_string();
    let before = sample(&scrape(&app).await, "corpus_upload_bytes_received_total").unwrap_or(0.0);
    assert_eq!(before, 0.0);

    let (content_type, body) = multipart(
        &[("title", "t"), ("category_id", &cat), ("media_type", "image")],
        Some(("file", "p.png", &fixture("pic.png"))),
    );
    let sent = body.len();
    let (status, record) = send(
        app.post("/api/v1/records/upload")
            .header("Authorization", user.bearer())
            .header("Content-Type", content_type)
            .body(body),
    )
    .await;
    assert_eq!(status, 201, "{record}");
    let after_direct = sample(&scrape(&app).await, "corpus_upload_bytes_received_total").unwrap();
    assert_eq!(after_direct, sent as f64, "every byte of the upload body, exactly");

    // Chunks count too; other routes' bodies do not.
    let (status, _) = chunk(&app, &user, Uuid::new_v4(), 0, 2, &[7u8; 1000]).await;
    assert_eq!(status, 200);
    send(app.post("/api/v1/auth/login").json(&json!({"phone": user.phone, "password": "x".repeat(5000)}))).await;
    let after_chunk = sample(&scrape(&app).await, "corpus_upload_bytes_received_total").unwrap();
    assert!(after_chunk - after_direct > 1000.0 && after_chunk - after_direct < 2000.0, "{after_chunk}");
}

#[tokio::test]
async fn metrics_need_the_token_when_one_is_set_and_are_off_in_production_without_one() {
    let token = "scraper-token-0123456789";
    let protected = TestApp::spawn_with(|c| c.metrics.metrics_token = Some(token.into())).await;
    let response = protected.get("/metrics").send().await.unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(response.headers()["www-authenticate"], "Bearer");
    for wrong in ["wrong", "scraper-token-012345678", "scraper-token-01234567890"] {
        assert_eq!(protected.get("/metrics").bearer_auth(wrong).send().await.unwrap().status(), 401, "{wrong}");
    }
    let response = protected.get("/metrics").bearer_auth(token).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.text().await.unwrap().contains("corpus_db_pool_connections"));

    let production = |token: Option<&'static str>| {
        TestApp::spawn_with(move |c| {
            c.corpus_env = Environment::Production;
            c.security.app_secret_key = Some(format!("{TEST_SECRET}-long-enough-for-production").into());
            c.metrics.metrics_token = token.map(Into::into);
        })
    };
    let closed = production(None).await;
    let (status, body) = send(closed.get("/metrics")).await;
    assert_eq!((status, body), (404, json!({"detail": "Not Found"})));
    let open = production(Some(token)).await;
    assert_eq!(open.get("/metrics").send().await.unwrap().status(), 401);
    assert_eq!(open.get("/metrics").bearer_auth(token).send().await.unwrap().status(), 200);
}

#[tokio::test]
async fn db_status_reports_the_free_disk_space_of_storage_and_spool() {
    let app = TestApp::spawn().await;
    let storage = app.storage_dir.path();
    let out = run(&app.db.url, storage, &["db", "status"]);
    assert_eq!(out.code, 0, "{}", out.all());
    let line = out
        .stdout
        .lines()
        .find(|l| l.contains(&format!("storage {}:", storage.display())))
        .unwrap_or_else(|| panic!("no storage line:\n{}", out.stdout));
    assert!(line.trim_start().starts_with("ok") && line.ends_with(" free"), "{line}");
    let shown: f64 = line.rsplit(": ").next().unwrap().split(' ').next().unwrap().parse().unwrap();
    let unit = line.trim_end_matches(" free").rsplit(' ').next().unwrap();
    let scale = match unit {
        "GiB" => 1024f64.powi(3),
        "TiB" => 1024f64.powi(4),
        "MiB" => 1024f64.powi(2),
        other => panic!("unit {other} in {line}"),
    };
    let actual = corpus_te::storage::free_space(storage).unwrap() as f64;
    // One decimal: up to 0.05 of the unit off, plus what other processes wrote meanwhile.
    assert!((shown * scale - actual).abs() <= 0.05 * scale + actual * 0.01, "{line} vs {actual} bytes");
    assert!(out.stdout.lines().any(|l| l.contains("spool ") && l.ends_with(" free")), "{}", out.stdout);

    // Less room than one upload of MAX_FILE_SIZE is flagged.
    let out = crate::helpers::cli::corpus(&app.db.url, storage)
        .args(["db", "status", "--max-file-size", &u64::MAX.to_string()])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.lines().any(|l| l.trim_start().starts_with("LOW") && l.contains("storage")), "{stdout}");
    assert!(out.status.success(), "disk space does not decide the database status: {stdout}");
}
