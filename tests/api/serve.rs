//! `corpus serve` and `corpus healthcheck`, black-box: the real binary over real HTTP.

use std::{
    process::{Child, Stdio},
    time::{Duration, Instant},
};

use crate::helpers::{
    cli::{Run, corpus, run},
    drop_database_blocking, unique_db_name, url_for,
};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

struct Server {
    child: Child,
    port: u16,
    db_name: String,
    _dir: tempfile::TempDir,
}

impl Server {
    /// Starts `corpus serve` in development mode on a database that does not exist yet.
    fn start() -> Self {
        let db_name = unique_db_name();
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let child = corpus(&url_for(&db_name), dir.path())
            .env("CORPUS_BIND", format!("127.0.0.1:{port}"))
            .env("LOG_LEVEL", "info")
            .args(["serve"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        Self { child, port, db_name, _dir: dir }
    }

    async fn wait_until_healthy(&mut self) -> Duration {
        let started = Instant::now();
        let client = reqwest::Client::new();
        while started.elapsed() < Duration::from_secs(30) {
            if let Ok(r) = client.get(format!("http://127.0.0.1:{}/health", self.port)).send().await
                && r.status() == 200
            {
                return started.elapsed();
            }
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("server exited early with {status}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("server did not become healthy");
    }

    fn terminate(&mut self) -> Run {
        let status = std::process::Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().unwrap();
        assert!(status.success());
        let deadline = Instant::now() + Duration::from_secs(15);
        while self.child.try_wait().unwrap().is_none() {
            assert!(Instant::now() < deadline, "server did not stop after SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        }
        let child = std::mem::replace(&mut self.child, std::process::Command::new("true").spawn().unwrap());
        child.wait_with_output().unwrap().into()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        drop_database_blocking(&self.db_name);
    }
}

#[tokio::test]
async fn serve_initialises_a_fresh_database_serves_and_stops_cleanly_on_sigterm() {
    let mut server = Server::start();
    server.wait_until_healthy().await;
    let base = format!("http://127.0.0.1:{}", server.port);
    let ready = reqwest::get(format!("{base}/health/ready")).await.unwrap();
    assert_eq!(ready.status(), 200);
    let docs = reqwest::get(format!("{base}/docs/")).await.unwrap();
    assert_eq!(docs.status(), 200);

    let dir = tempfile::tempdir().unwrap();
    let check = corpus("postgres://unused@127.0.0.1:1/x", dir.path())
        .env("CORPUS_BIND", format!("0.0.0.0:{}", server.port))
        .arg("healthcheck")
        .output()
        .unwrap();
    assert!(check.status.success(), "{}", String::from_utf8_lossy(&check.stderr));

    let out = server.terminate();
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(out.stderr.contains("shutdown signal received"), "{}", out.stderr);
    assert!(out.stderr.contains("stopped"), "{}", out.stderr);
}

#[tokio::test]
async fn healthcheck_fails_when_nothing_answers() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let out = run(
        "postgres://unused@127.0.0.1:1/x",
        dir.path(),
        &["healthcheck", "--url", &format!("http://127.0.0.1:{port}/health")],
    );
    assert_eq!(out.code, 1, "{}", out.all());
    assert!(out.stderr.contains("unhealthy"));
}

#[tokio::test]
async fn production_refuses_to_start_without_a_real_secret() {
    let dir = tempfile::tempdir().unwrap();
    for secret in [None, Some("change-in-production")] {
        let mut cmd = corpus("postgres://postgres@127.0.0.1:5432/postgres", dir.path());
        cmd.env("CORPUS_ENV", "production").arg("serve");
        if let Some(secret) = secret {
            cmd.env("APP_SECRET_KEY", secret);
        }
        let out: Run = cmd.output().unwrap().into();
        assert_ne!(out.code, 0, "{}", out.all());
        assert!(out.stderr.contains("APP_SECRET_KEY"), "{}", out.all());
    }
}

#[tokio::test]
async fn production_refuses_to_serve_an_uninitialised_database() {
    let dir = tempfile::tempdir().unwrap();
    let name = unique_db_name();
    let out: Run = corpus(&url_for(&name), dir.path())
        .env("CORPUS_ENV", "production")
        .env("APP_SECRET_KEY", "a-long-production-secret-value-of-32-bytes+")
        .arg("serve")
        .output()
        .unwrap()
        .into();
    assert_ne!(out.code, 0, "{}", out.all());
    assert!(out.stderr.contains("corpus db init"), "{}", out.all());
}

#[test]
fn help_documents_the_commands_and_settings() {
    let dir = tempfile::tempdir().unwrap();
    let out = run("postgres://unused@127.0.0.1:1/x", dir.path(), &["--help"]);
    assert_eq!(out.code, 0);
    for word in
        ["serve", "healthcheck", "db", "users", "DATABASE_URL", "APP_SECRET_KEY", "MAX_FILE_SIZE", "HZ_OBJ_ENDPOINT"]
    {
        assert!(out.stdout.contains(word), "--help mentions {word}");
    }
    let db = run("postgres://unused@127.0.0.1:1/x", dir.path(), &["db", "--help"]);
    for word in ["status", "info", "init", "migrate", "seed", "reinit", "clean"] {
        assert!(db.stdout.contains(word), "db --help mentions {word}");
    }
}
