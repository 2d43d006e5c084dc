//! Settings on the real binary's command line: after the command (`corpus serve --bind ...`) as
//! well as before it, over the environment, listed by each command's `--help`, secrets never shown.

use std::{
    process::Stdio,
    time::{Duration, Instant},
};

use crate::helpers::{
    cli::{Run, corpus, run},
    drop_database_blocking, unique_db_name, url_for,
};

const UNUSED_DB: &str = "postgres://unused@127.0.0.1:1/x";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The `bind:` line of `corpus db info`.
fn info_bind(out: &Run) -> String {
    out.stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("bind:").map(|b| b.trim().to_owned()))
        .unwrap_or_else(|| panic!("no bind line in:\n{}", out.all()))
}

#[test]
fn serve_help_lists_every_group_of_settings_and_no_secret_value() {
    let dir = tempfile::tempdir().unwrap();
    let out: Run = corpus("postgres://corpus:db-url-password-x1@127.0.0.1:1/x", dir.path())
        .env("APP_SECRET_KEY", "app-secret-value-y2-0123456789abcdef")
        .env("HZ_OBJ_SECRET_KEY", "s3-secret-value-z3")
        .env("OTP_API_KEY", "otp-api-key-value-w4")
        .env("REDIS_URL", "redis://:redis-password-v5@127.0.0.1:6379")
        .env("METRICS_TOKEN", "metrics-token-value-u6")
        .args(["serve", "--help"])
        .output()
        .unwrap()
        .into();
    assert_eq!(out.code, 0, "{}", out.all());
    for word in [
        "--bind",
        "CORPUS_BIND",
        "--database-url",
        "DATABASE_URL",
        "--app-secret-key",
        "--max-file-size",
        "--storage-dir",
        "--redis-url",
        "--otp-provider",
        "--log-level",
        "--http-header-timeout-seconds",
        "Database:",
        "HTTP server:",
        "Security:",
        "Storage:",
        "Uploads and media:",
        "Redis and rate limits:",
        "One-time codes (SMS):",
        "Logging:",
        "Metrics:",
        "--metrics-token",
        "--file-download",
        "--trusted-proxies",
    ] {
        assert!(out.stdout.contains(word), "`corpus serve --help` lists {word}:\n{}", out.stdout);
    }
    for secret in [
        "db-url-password-x1",
        "app-secret-value-y2",
        "s3-secret-value-z3",
        "otp-api-key-value-w4",
        "redis-password-v5",
        "metrics-token-value-u6",
    ] {
        assert!(!out.all().contains(secret), "`corpus serve --help` shows the value of a secret ({secret})");
    }
}

#[test]
fn an_option_after_the_command_or_before_it_wins_over_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let info = |args: &[&str]| -> Run {
        corpus(UNUSED_DB, dir.path()).env("CORPUS_BIND", "127.0.0.1:1111").args(args).output().unwrap().into()
    };
    assert_eq!(info_bind(&info(&["db", "info"])), "127.0.0.1:1111");
    assert_eq!(info_bind(&info(&["db", "info", "--bind", "127.0.0.1:2222"])), "127.0.0.1:2222");
    assert_eq!(info_bind(&info(&["--bind", "127.0.0.1:3333", "db", "info"])), "127.0.0.1:3333");
    assert_eq!(info_bind(&info(&["db", "--bind", "127.0.0.1:4444", "info"])), "127.0.0.1:4444");
    // A bad value is refused after the command as before it, naming the option.
    let bad = info(&["db", "info", "--bind", "nowhere"]);
    assert_eq!(bad.code, 2, "{}", bad.all());
    assert!(bad.stderr.contains("--bind"), "{}", bad.all());
    // `db info` masks the password of a URL given as an option too.
    let masked =
        run(UNUSED_DB, dir.path(), &["db", "info", "--database-url", "postgres://u:opt-pass-q7@127.0.0.1:1/x"]);
    assert!(masked.stdout.contains("postgres://u:***@127.0.0.1:1/x"), "{}", masked.all());
    assert!(!masked.all().contains("opt-pass-q7"), "{}", masked.all());
}

#[tokio::test]
async fn serve_with_bind_after_the_command_listens_there() {
    let db_name = unique_db_name();
    let dir = tempfile::tempdir().unwrap();
    let (port, env_port) = (free_port(), free_port());
    let mut child = corpus(&url_for(&db_name), dir.path())
        // The environment names another port: the option after `serve` must win.
        .env("CORPUS_BIND", format!("127.0.0.1:{env_port}"))
        .args(["serve", "--bind", &format!("127.0.0.1:{port}"), "--log-level", "warn"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let mut healthy = false;
    while started.elapsed() < Duration::from_secs(30) {
        if let Ok(r) = reqwest::get(format!("http://127.0.0.1:{port}/health")).await
            && r.status() == 200
        {
            healthy = true;
            break;
        }
        if child.try_wait().unwrap().is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let on_env_port = std::net::TcpStream::connect(("127.0.0.1", env_port)).is_ok();
    let _ = std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let deadline = Instant::now() + Duration::from_secs(15);
    while child.try_wait().unwrap().is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let out: Run = child.wait_with_output().unwrap().into();
    drop_database_blocking(&db_name);
    assert!(healthy, "`corpus serve --bind 127.0.0.1:{port}` did not answer there:\n{}", out.all());
    assert!(!on_env_port, "the server listened on CORPUS_BIND instead");
}
