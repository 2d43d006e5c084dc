//! Answers under faults: Redis down and back, the database unreachable, a full storage disk
//! (simulated by an unwritable probe location), an oversized JSON body.

use std::{
    net::SocketAddr,
    path::PathBuf,
    process::Command,
    time::{Duration, Instant},
};

use axum::{ServiceExt, extract::Request};
use corpus_te::{db, router, state::AppState};
use reqwest::{Response, StatusCode};
use serde_json::json;

use crate::helpers::{TestApp, accounts::PASSWORD, json, logs, send, test_config};

/// Sends `request`, timing it; a hang longer than the client timeout fails the test.
async fn timed(request: reqwest::RequestBuilder) -> (Response, Duration) {
    let started = Instant::now();
    let response = request.timeout(Duration::from_secs(10)).send().await.expect("an answer within 10 s, not a hang");
    (response, started.elapsed())
}

/// Serves the application on a pool whose database does not answer (a closed port).
async fn spawn_without_database() -> (String, tempfile::TempDir, tokio::net::TcpSocket) {
    logs::init();
    // The port stays bound (not listening) for the whole test, so connections to it are refused:
    // a port merely found free could be taken by another test's server meanwhile, and the
    // answer would then be that server's, not an unreachable database's.
    let reserved = tokio::net::TcpSocket::new_v4().unwrap();
    reserved.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let port = reserved.local_addr().unwrap().port();
    let storage = tempfile::tempdir().unwrap();
    let mut config = test_config(&format!("postgres://postgres@127.0.0.1:{port}/corpus_te"), storage.path());
    config.database.db_acquire_timeout_seconds = 1;
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
    (format!("http://{addr}"), storage, reserved)
}

#[tokio::test]
async fn with_the_database_unreachable_requests_answer_503_with_retry_after_not_500() {
    let (base, _storage, _refusing) = spawn_without_database().await;
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

/// A private `redis-server` on a free loopback port, killed (by its pid) when dropped.
struct PrivateRedis {
    port: u16,
    dir: tempfile::TempDir,
}

impl PrivateRedis {
    fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let redis = Self { port, dir: tempfile::tempdir().unwrap() };
        redis.launch();
        redis
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    fn pidfile(&self) -> PathBuf {
        self.dir.path().join("redis.pid")
    }

    /// Starts the server on this port and waits until it accepts connections.
    fn launch(&self) {
        let status = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .args(["--daemonize", "yes", "--pidfile"])
            .arg(self.pidfile())
            .arg("--dir")
            .arg(self.dir.path())
            .status()
            .expect("redis-server is installed");
        assert!(status.success());
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "private Redis did not start on port {}", self.port);
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends `signal` to the server (e.g. `STOP`: it hangs, accepting connections but never answering).
    fn signal(&self, signal: &str) {
        let pid = std::fs::read_to_string(self.pidfile()).unwrap();
        assert!(Command::new("kill").args([&format!("-{signal}"), pid.trim()]).status().unwrap().success());
    }

    /// Kills the server (SIGKILL, as a crash) and waits until its port refuses connections.
    fn kill(&self) {
        let Ok(pid) = std::fs::read_to_string(self.pidfile()) else { return };
        let pid = pid.trim().to_owned();
        let _ = Command::new("kill").args(["-9", &pid]).status();
        let _ = std::fs::remove_file(self.pidfile());
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
            assert!(Instant::now() < deadline, "private Redis (pid {pid}) did not stop");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        // A stopped process would not die of SIGKILL until continued on some systems' views of
        // it; continuing first is harmless.
        let _ = std::fs::read_to_string(self.pidfile())
            .map(|pid| Command::new("kill").args(["-CONT", pid.trim()]).status());
        self.kill();
    }
}

fn assert_unavailable(response: &Response, elapsed: Duration, what: &str) {
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE, "{what}");
    let retry_after = response.headers().get("retry-after").unwrap_or_else(|| panic!("{what}: no Retry-After"));
    assert!(retry_after.to_str().unwrap().parse::<u32>().unwrap() > 0, "{what}");
    // The bound is REDIS_TIMEOUT_MS (500 ms); 2 s leaves room for a loaded machine.
    assert!(elapsed < Duration::from_secs(2), "{what} took {elapsed:?}");
}

#[tokio::test]
async fn with_redis_down_login_and_otp_answer_503_quickly_and_recover_when_it_returns() {
    let redis = PrivateRedis::start();
    let app = TestApp::spawn_with(|c| c.limits.redis_url = Some(redis.url().into())).await;
    let user = app.contributor().await;
    let login = || app.post("/api/v1/auth/login").json(&json!({"phone": user.phone, "password": PASSWORD}));
    let (response, _) = timed(login()).await;
    assert_eq!(response.status(), 200, "login works while Redis is up");

    redis.kill();
    // The old client waited up to ~2 minutes on its second attempt: try several in a row.
    for attempt in 1..=3 {
        let (response, elapsed) = timed(login()).await;
        eprintln!("login {attempt} with Redis down: {} in {elapsed:?}", response.status());
        assert_unavailable(&response, elapsed, &format!("login {attempt} with Redis down"));
        let (status, body) = json(response).await;
        assert_eq!((status, body["detail"].is_string()), (503, true), "{body}");
    }
    let (response, elapsed) = timed(app.post("/api/v1/auth/send-otp").json(&json!({"phone_number": user.phone}))).await;
    eprintln!("send-otp with Redis down: {} in {elapsed:?}", response.status());
    assert_unavailable(&response, elapsed, "send-otp with Redis down");

    redis.launch();
    let back = Instant::now();
    let (recovered, attempts) = until_login_works(&login, back).await;
    eprintln!("login recovered {recovered:?} after Redis accepted connections again ({attempts} attempt(s))");
}

/// Logs in every 50 ms until it works; fails the test if that takes 2 s from `since`.
async fn until_login_works(login: &impl Fn() -> reqwest::RequestBuilder, since: Instant) -> (Duration, u32) {
    let mut attempts = 0;
    loop {
        attempts += 1;
        let (response, _) = timed(login()).await;
        if response.status() == 200 {
            return (since.elapsed(), attempts);
        }
        assert!(since.elapsed() < Duration::from_secs(2), "login still {} after 2 s", response.status());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn with_redis_hung_login_answers_503_within_the_timeout_and_recovers_when_it_resumes() {
    let redis = PrivateRedis::start();
    let app = TestApp::spawn_with(|c| c.limits.redis_url = Some(redis.url().into())).await;
    let user = app.contributor().await;
    let login = || app.post("/api/v1/auth/login").json(&json!({"phone": user.phone, "password": PASSWORD}));
    assert_eq!(timed(login()).await.0.status(), 200);

    // Stopped, Redis still accepts connections but never answers: only a timeout ends the wait.
    redis.signal("STOP");
    for attempt in 1..=2 {
        let (response, elapsed) = timed(login()).await;
        eprintln!("login {attempt} with Redis hung: {} in {elapsed:?}", response.status());
        assert_unavailable(&response, elapsed, &format!("login {attempt} with Redis hung"));
    }
    redis.signal("CONT");
    let (recovered, attempts) = until_login_works(&login, Instant::now()).await;
    eprintln!("login recovered {recovered:?} after Redis resumed ({attempts} attempt(s))");
}

#[tokio::test]
async fn a_json_body_over_the_limit_is_413_in_the_api_error_shape() {
    let app = TestApp::spawn().await;
    let huge = format!(r#"{{"phone": "+919876543210", "password": "{}"}}"#, "x".repeat(10 * 1024 * 1024));
    let response = app
        .post("/api/v1/auth/login")
        .header("content-type", "application/json")
        .body(huge)
        .send()
        .await
        .expect("the server answers");
    assert_eq!(response.headers()["content-type"], "application/json");
    let (status, body) = json(response).await;
    assert_eq!(status, 413, "{body}");
    assert_eq!(body, json!({"detail": "Request body too large"}));

    // Without a Content-Length (chunked), the limit holds as the bytes arrive.
    let chunks =
        futures::stream::iter((0..10).map(|_| Ok::<_, std::io::Error>(bytes::Bytes::from(vec![b' '; 1024 * 1024]))));
    let response = app
        .post("/api/v1/auth/login")
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await
        .expect("the server answers");
    let (status, body) = json(response).await;
    assert_eq!(status, 413, "{body}");
}

#[tokio::test]
async fn readiness_is_degraded_when_storage_refuses_writes_and_recovers() {
    let app = TestApp::spawn().await;
    let (status, body) = send(app.get("/health/ready")).await;
    assert_eq!(status, 200, "{body}");
    let probes = app.storage_dir.path().join("health");
    assert_eq!(std::fs::read_dir(&probes).unwrap().count(), 0, "the probe object is deleted after the check");

    // A read-only directory would not stop root (tests may run as root): a file where the
    // probe's directory should be makes every probe write fail, as a full disk would.
    std::fs::remove_dir(&probes).unwrap();
    std::fs::write(&probes, b"in the way").unwrap();
    // Storage is shared by every replica: degraded, still 200 (issue 13), with the details.
    let (status, body) = send(app.get("/health/ready")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "degraded", "{body}");
    assert_eq!(body["storage"]["status"], "error", "{body}");
    assert_eq!(body["database"]["status"], "ok", "{body}");

    std::fs::remove_file(&probes).unwrap();
    let (status, body) = send(app.get("/health/ready")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "ready", "{body}");
}
