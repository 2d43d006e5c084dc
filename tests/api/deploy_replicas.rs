//! Settings for running behind a proxy and as several replicas: `TRUSTED_PROXIES` with CIDR
//! ranges, the production start warnings, readiness that tells "cannot serve" from "degraded", and
//! downloads redirected to presigned S3 URLs.

use std::{
    process::{Child, Stdio},
    time::{Duration, Instant},
};

use corpus_te::config::{FileDownload, StorageBackend};
use serde_json::json;

use crate::{
    helpers::{
        TestApp, TestDb,
        cli::{Run, corpus},
        send,
        sms::FakeSms,
    },
    records_crud::category,
    records_upload::{S3_KEY, S3_SECRET, S3Server, fixture, spawn_s3, upload},
};

const PRODUCTION_SECRET: &str = "a-production-secret-of-more-than-32-bytes";

/// `POST /auth/send-otp` for a new account's phone, as if forwarded for `forwarded_for`.
async fn send_otp_from(app: &TestApp, forwarded_for: &str) -> u16 {
    let user = app.contributor().await;
    send(
        app.post("/api/v1/auth/send-otp")
            .header("X-Forwarded-For", forwarded_for)
            .json(&json!({"phone_number": user.phone})),
    )
    .await
    .0
}

#[tokio::test]
async fn trusted_proxies_given_as_a_cidr_range_let_forwarded_clients_be_told_apart() {
    let sms = FakeSms::start().await;
    // The test client connects from 127.0.0.1: inside 127.0.0.0/8, so it is a trusted proxy.
    let app = TestApp::spawn_with(|c| {
        sms.configure_ozonetel(c);
        c.otp.otp_ip_limit_per_hour = 1;
        c.limits.trusted_proxies = "10.0.0.0/8, 127.0.0.0/8".parse().unwrap();
    })
    .await;
    assert_eq!(send_otp_from(&app, "203.0.113.7").await, 200);
    assert_eq!(send_otp_from(&app, "203.0.113.7").await, 429, "the same client, behind the proxy, is limited");
    assert_eq!(send_otp_from(&app, "203.0.113.8").await, 200, "another client has its own limit");
    // A chain through two proxies of the range: the client is the last address outside it.
    assert_eq!(send_otp_from(&app, "203.0.113.9, 10.1.2.3").await, 200);
    assert_eq!(send_otp_from(&app, "198.51.100.1, 203.0.113.9, 10.20.30.40").await, 429, "203.0.113.9 again");

    // A peer outside the range: what it forwards is not believed, it is the client itself.
    let untrusted = TestApp::spawn_with(|c| {
        sms.configure_ozonetel(c);
        c.otp.otp_ip_limit_per_hour = 1;
        c.limits.trusted_proxies = "10.0.0.0/8".parse().unwrap();
    })
    .await;
    assert_eq!(send_otp_from(&untrusted, "203.0.113.7").await, 200);
    assert_eq!(send_otp_from(&untrusted, "203.0.113.8").await, 429, "a spoofed header does not buy a new limit");
}

#[test]
fn an_invalid_trusted_proxy_is_refused_at_start_naming_the_entry() {
    let dir = tempfile::tempdir().unwrap();
    let out: Run = corpus("postgres://unused@127.0.0.1:1/x", dir.path())
        .env("TRUSTED_PROXIES", "10.0.0.0/8, load-balancer.internal")
        .arg("serve")
        .output()
        .unwrap()
        .into();
    assert_ne!(out.code, 0, "{}", out.all());
    assert!(out.stderr.contains("load-balancer.internal"), "{}", out.all());
}

/// `corpus serve` (the real binary) in production on an initialised database, stopped by SIGTERM
/// once it answers; returns what it logged and the answers to `probe` requests made meanwhile.
async fn serve_in_production(envs: &[(&str, String)], probes: &[(&str, Option<&str>)]) -> (Run, Vec<u16>) {
    let db = TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    let storage = dir.path().join("data");
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut command = corpus(&db.url, &storage);
    command
        .env("CORPUS_ENV", "production")
        .env("APP_SECRET_KEY", PRODUCTION_SECRET)
        .env("CORPUS_BIND", format!("127.0.0.1:{port}"))
        .env("LOG_LEVEL", "info")
        .arg("serve")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (key, value) in envs {
        command.env(key, value);
    }
    let mut child: Child = command.spawn().unwrap();
    let client = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    let started = Instant::now();
    loop {
        if client.get(format!("{base}/health")).send().await.is_ok_and(|r| r.status() == 200) {
            break;
        }
        if let Some(status) = child.try_wait().unwrap() {
            let out: Run = child.wait_with_output().unwrap().into();
            panic!("serve exited early with {status}: {}", out.all());
        }
        assert!(started.elapsed() < Duration::from_secs(30), "serve did not answer");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut answers = Vec::new();
    for (path, token) in probes {
        let mut request = client.get(format!("{base}{path}"));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        answers.push(request.send().await.unwrap().status().as_u16());
    }
    assert!(std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap().success());
    let out: Run = child.wait_with_output().unwrap().into();
    assert_eq!(out.code, 0, "{}", out.all());
    (out, answers)
}

#[tokio::test]
async fn production_start_warns_once_about_local_storage_per_process_limits_and_no_proxy() {
    let (out, answers) = serve_in_production(&[], &[("/metrics", None)]).await;
    for (warning, says) in [
        ("STORAGE_BACKEND=local", "safe with one replica only, unless every replica mounts this same directory"),
        ("REDIS_URL is not set", "with N replicas a client gets N times each limit"),
        ("TRUSTED_PROXIES is not set", "every client then has the proxy's address"),
    ] {
        assert_eq!(out.stderr.matches(warning).count(), 1, "{warning} logged once:\n{}", out.stderr);
        let line = out.stderr.lines().find(|l| l.contains(warning)).unwrap();
        assert!(line.contains(says), "{line}");
        assert!(line.contains(r#""level":"WARN""#), "a JSON warning in production: {line}");
    }
    assert!(out.stderr.contains("GET /metrics is not served"), "{}", out.stderr);
    // A warning, not a refusal: it served, and without METRICS_TOKEN production has no metrics.
    assert_eq!(answers, [404]);
    assert!(!out.stderr.contains(PRODUCTION_SECRET));
}

#[tokio::test]
async fn production_start_is_quiet_when_storage_limits_and_proxies_are_shared() {
    let s3 = spawn_s3().await;
    let token = "a-metrics-token-for-the-scraper";
    let envs = [
        ("HZ_OBJ_ENDPOINT", format!("http://{}", s3.addr)),
        ("HZ_OBJ_ACCESS_KEY", S3_KEY.to_owned()),
        ("HZ_OBJ_SECRET_KEY", S3_SECRET.to_owned()),
        ("HZ_OBJ_BUCKET_NAME", "corpus-data".to_owned()),
        ("REDIS_URL", "redis://127.0.0.1:6379/0".to_owned()),
        ("TRUSTED_PROXIES", "10.0.0.0/8, fd00::/8".to_owned()),
        ("METRICS_TOKEN", token.to_owned()),
    ];
    let probes = [("/metrics", None), ("/metrics", Some("wrong")), ("/metrics", Some(token)), ("/health/ready", None)];
    let (out, answers) = serve_in_production(&envs, &probes).await;
    for warning in ["STORAGE_BACKEND=local", "REDIS_URL", "TRUSTED_PROXIES", "GET /metrics is not served"] {
        assert!(!out.stderr.contains(warning), "{warning}:\n{}", out.stderr);
    }
    assert!(!out.stderr.contains(r#""level":"WARN""#), "{}", out.stderr);
    assert_eq!(answers, [401, 401, 200, 200]);
    assert!(!out.stderr.contains(token), "the metrics token is never logged");
}

#[tokio::test]
async fn readiness_with_redis_down_is_degraded_but_keeps_the_replica_in_the_pool() {
    // Nothing listens on port 1: the shared Redis is down for every replica at once.
    let app = TestApp::spawn_with(|c| c.limits.redis_url = Some("redis://127.0.0.1:1/0".into())).await;
    let (status, body) = send(app.get("/health/ready")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "degraded");
    assert_eq!(body["database"]["status"], "ok");
    assert_eq!(body["storage"]["status"], "ok");
    assert_eq!(body["redis"]["status"], "error");
    assert!(body["redis"]["error"].as_str().is_some_and(|e| !e.is_empty()), "{body}");
    // The replica still serves what needs no Redis.
    let user = app.contributor().await;
    let (status, _) = send(app.get("/api/v1/auth/me").header("Authorization", user.bearer())).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn readiness_with_the_bucket_refusing_is_degraded_and_with_the_database_gone_not_ready() {
    let s3 = spawn_s3().await;
    let app = app_on_s3(&s3, FileDownload::Proxy, 60, "a-wrong-secret").await;
    let (status, body) = send(app.get("/health/ready")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!((body["status"].as_str(), body["storage"]["status"].as_str()), (Some("degraded"), Some("error")));
    assert!(body.get("redis").is_none(), "{body}");

    crate::helpers::drop_database_now(&app.db.name).await;
    let (status, body) = send(app.get("/health/ready")).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["status"], "not_ready");
    assert_eq!(body["database"]["status"], "error");
}

async fn app_on_s3(s3: &S3Server, download: FileDownload, ttl: u64, secret: &str) -> TestApp {
    let endpoint = format!("http://{}", s3.addr);
    let secret = secret.to_owned();
    TestApp::spawn_with(move |c| {
        c.storage.storage_backend = Some(StorageBackend::S3);
        c.storage.hz_obj_endpoint = Some(endpoint);
        c.storage.hz_obj_access_key = Some(S3_KEY.into());
        c.storage.hz_obj_secret_key = Some(secret.into());
        c.storage.hz_obj_bucket_name = "corpus-data".into();
        c.storage.hz_obj_use_ssl = "false".into();
        c.storage.file_download = download;
        c.storage.file_redirect_ttl_seconds = ttl;
    })
    .await
}

/// The `Location` of a 307 answer to `GET /records/{uid}/file`.
async fn redirect_location(app: &TestApp, bearer: &str, uid: &str) -> String {
    let response =
        app.get(&format!("/api/v1/records/{uid}/file")).header("Authorization", bearer).send().await.unwrap();
    assert_eq!(response.status(), 307, "{:?}", response.headers());
    assert_eq!(response.headers()["cache-control"], "no-store");
    response.headers()["location"].to_str().unwrap().to_owned()
}

#[tokio::test]
async fn file_download_redirect_sends_authorised_callers_to_a_short_lived_presigned_url() {
    let s3 = spawn_s3().await;
    let app = app_on_s3(&s3, FileDownload::Redirect, 120, S3_SECRET).await;
    let (owner, stranger, reviewer) = (app.contributor().await, app.contributor().await, app.reviewer().await);
    let cat = category(&app, "music").await.to_string();
    let bytes = fixture("tone.wav");
    let (status, record) = upload(
        &app,
        &owner,
        &[("title", "t"), ("category_id", &cat), ("media_type", "audio")],
        Some(("file", "tone.wav", &bytes)),
    )
    .await;
    assert_eq!(status, 201, "{record}");
    let uid = record["uid"].as_str().unwrap().to_owned();

    let location = redirect_location(&app, &owner.bearer(), &uid).await;
    assert!(location.starts_with(&format!("http://{}/corpus-data/audio/{uid}.wav?", s3.addr)), "{location}");
    assert!(location.contains("X-Amz-Expires=120"), "{location}");
    assert!(location.contains("X-Amz-Signature="), "{location}");
    // The bucket serves it to a client holding nothing but the URL, byte for byte and by range.
    let plain = reqwest::Client::new();
    let whole = plain.get(&location).send().await.unwrap();
    assert_eq!(whole.status(), 200);
    assert_eq!(whole.bytes().await.unwrap().as_ref(), bytes.as_slice());
    let part = plain.get(&location).header("Range", "bytes=4-11").send().await.unwrap();
    assert_eq!(part.status(), 206);
    assert_eq!(part.bytes().await.unwrap().as_ref(), &bytes[4..12]);
    // The signature covers the key: the URL opens nothing else.
    let other = location.replace(&format!("audio/{uid}.wav"), "audio/other.wav");
    assert_eq!(plain.get(&other).send().await.unwrap().status(), 403);
    // Reviewers are sent there too.
    redirect_location(&app, &reviewer.bearer(), &uid).await;

    // The same authorisation as streaming: others get no URL.
    let response = app
        .get(&format!("/api/v1/records/{uid}/file"))
        .header("Authorization", stranger.bearer())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    assert!(response.headers().get("location").is_none());
    let (status, body) = send(app.get(&format!("/api/v1/records/{uid}/file"))).await;
    assert_eq!((status, body), (403, json!({"detail": "Not authenticated"})));

    // A missing object is this API's 404, not a redirect to the bucket's.
    std::fs::remove_file(s3.root.path().join(format!("corpus-data/audio/{uid}.wav"))).unwrap();
    let (status, body) =
        send(app.get(&format!("/api/v1/records/{uid}/file")).header("Authorization", owner.bearer())).await;
    assert_eq!((status, body), (404, json!({"detail": "File not found"})));
}

#[tokio::test]
async fn file_download_redirect_urls_expire() {
    let s3 = spawn_s3().await;
    let app = app_on_s3(&s3, FileDownload::Redirect, 1, S3_SECRET).await;
    let owner = app.contributor().await;
    let cat = category(&app, "images").await.to_string();
    let (status, record) = upload(
        &app,
        &owner,
        &[("title", "t"), ("category_id", &cat), ("media_type", "image")],
        Some(("file", "p.png", &fixture("pic.png"))),
    )
    .await;
    assert_eq!(status, 201, "{record}");
    let location = redirect_location(&app, &owner.bearer(), record["uid"].as_str().unwrap()).await;
    assert!(location.contains("X-Amz-Expires=1&") || location.ends_with("X-Amz-Expires=1"), "{location}");
    // The signing time has a one-second resolution: past 3 s the URL is certainly expired.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let response = reqwest::get(&location).await.unwrap();
    assert_eq!(response.status(), 403);
    assert!(response.text().await.unwrap().contains("expired"));
}

#[test]
fn file_download_redirect_is_refused_with_local_storage() {
    let dir = tempfile::tempdir().unwrap();
    let out: Run = corpus("postgres://unused@127.0.0.1:1/x", dir.path())
        .env("FILE_DOWNLOAD", "redirect")
        .arg("serve")
        .output()
        .unwrap()
        .into();
    assert_ne!(out.code, 0, "{}", out.all());
    assert!(out.stderr.contains("FILE_DOWNLOAD=redirect needs S3 storage"), "{}", out.all());
}
