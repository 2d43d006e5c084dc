//! The real binary and jobs: `corpus serve` runs a worker unless `CORPUS_NO_WORKER`,
//! `corpus jobs list|show|cancel|retry`, and `corpus jobs backfill-duration` restoring the
//! durations of records that have none.

use std::{
    process::{Child, Stdio},
    time::Duration,
};

use corpus_te::db::jobs::{self as queue, NewJob};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::{
    helpers::{TestApp, cli},
    jobs_queue::{fast_jobs, wait_for},
    records_crud::category,
    records_upload::{fixture, upload},
};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// `corpus serve` on the app's database, with fast job settings.
fn serve(app: &TestApp, extra: &[(&str, &str)]) -> Child {
    let mut cmd = cli::corpus(&app.db.url, app.storage_dir.path());
    cmd.env("CORPUS_BIND", format!("127.0.0.1:{}", free_port()))
        .env("JOB_POLL_INTERVAL_MS", "100")
        .env("JOB_LEASE_SECONDS", "3")
        .env("SHUTDOWN_GRACE_SECONDS", "2")
        .args(["serve"])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    for (k, v) in extra {
        cmd.env(k, v);
    }
    cmd.spawn().expect("start corpus serve")
}

fn terminate(mut child: Child) -> i32 {
    std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    child.wait().unwrap().code().unwrap_or(-1)
}

async fn enqueue_noop(app: &TestApp) -> Uuid {
    queue::enqueue(app.pool(), &NewJob { kind: "noop", args: json!({}), owner: None, max_attempts: 1 }).await.unwrap()
}

#[tokio::test]
async fn serve_runs_jobs_in_process_unless_told_not_to_and_the_jobs_commands_steer_them() {
    let app = TestApp::spawn_with(fast_jobs).await;
    let server = serve(&app, &[]);
    let id = enqueue_noop(&app).await;
    let job = wait_for(&app, id, Duration::from_secs(30), |j| j.state == "SUCCESS").await;
    assert!(job.worker.unwrap().contains(&format!(":{}:", server.id())), "serve's own worker ran it");
    // Its scheduler took the periodic jobs' first periods (it starts beside the worker, so under
    // load the no-op may finish first: wait for it).
    let cleanups = || async {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM periodic_runs WHERE kind = 'cleanup'")
            .fetch_one(app.pool())
            .await
            .unwrap()
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while cleanups().await == 0 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(cleanups().await, 1);
    assert_eq!(terminate(server), 0);

    // An API-only replica leaves jobs to the workers.
    let api_only = serve(&app, &[("CORPUS_NO_WORKER", "true")]);
    let waiting = enqueue_noop(&app).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(queue::get(app.pool(), waiting).await.unwrap().unwrap().state, "PENDING");
    assert_eq!(terminate(api_only), 0);

    let dir = app.storage_dir.path();
    let id = waiting.to_string();
    let listed = cli::run(&app.db.url, dir, &["jobs", "list", "--state", "pending"]);
    assert_eq!(listed.code, 0, "{}", listed.all());
    assert!(listed.stdout.contains(&id) && listed.stdout.contains("PENDING"), "{}", listed.stdout);
    let shown = cli::run(&app.db.url, dir, &["jobs", "show", &id]);
    assert_eq!(shown.code, 0);
    let shown: Value = serde_json::from_str(&shown.stdout).unwrap();
    assert_eq!(shown["kind"], "noop");
    let cancelled = cli::run(&app.db.url, dir, &["jobs", "cancel", &id]);
    assert_eq!(cancelled.code, 0, "{}", cancelled.all());
    assert_eq!(queue::get(app.pool(), waiting).await.unwrap().unwrap().state, "REVOKED");
    let again = cli::run(&app.db.url, dir, &["jobs", "cancel", &id]);
    assert_ne!(again.code, 0, "an ended job cannot be cancelled again");
    let retried = cli::run(&app.db.url, dir, &["jobs", "retry", &id]);
    assert_eq!(retried.code, 0, "{}", retried.all());
    assert_eq!(queue::get(app.pool(), waiting).await.unwrap().unwrap().state, "PENDING");
    let unknown = cli::run(&app.db.url, dir, &["jobs", "show", &Uuid::new_v4().to_string()]);
    assert_ne!(unknown.code, 0);
}

#[tokio::test]
async fn backfill_duration_restores_missing_durations_from_the_stored_files() {
    let app = TestApp::spawn().await;
    let user = app.contributor().await;
    let cat = category(&app, "songs").await.to_string();
    let mut expected = Vec::new();
    for (name, media_type) in [("cbr.mp3", "audio"), ("tone.flac", "audio"), ("clip.mp4", "video")] {
        let bytes = fixture(name);
        let (status, record) = upload(
            &app,
            &user,
            &[("title", name), ("category_id", &cat), ("media_type", media_type)],
            Some(("file", name, &bytes)),
        )
        .await;
        assert!(status == 200 || status == 201, "{record}");
        let seconds = record["duration_seconds"].as_i64().expect("timed on upload");
        expected.push((record["uid"].as_str().unwrap().to_owned(), seconds));
    }
    // As the original left them: no durations.
    sqlx::query("UPDATE record SET duration_seconds = NULL").execute(app.pool()).await.unwrap();
    let dir = app.storage_dir.path();
    let dry = cli::run(&app.db.url, dir, &["jobs", "backfill-duration", "--dry-run"]);
    assert_eq!(dry.code, 0, "{}", dry.all());
    assert!(dry.stdout.contains("3 records examined: 3 timed"), "{}", dry.stdout);
    let still: i64 = sqlx::query_scalar("SELECT count(*) FROM record WHERE duration_seconds IS NULL")
        .fetch_one(app.pool())
        .await
        .unwrap();
    assert_eq!(still, 3, "a dry run writes nothing");

    let only_video = cli::run(&app.db.url, dir, &["jobs", "backfill-duration", "--media-type", "video"]);
    assert!(only_video.stdout.contains("1 records examined"), "{}", only_video.all());
    let run = cli::run(&app.db.url, dir, &["jobs", "backfill-duration"]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(run.stdout.contains("2 records examined: 2 timed"), "{}", run.stdout);
    for (uid, seconds) in expected {
        let stored: Option<i32> = sqlx::query_scalar("SELECT duration_seconds FROM record WHERE uid = $1::uuid")
            .bind(&uid)
            .fetch_one(app.pool())
            .await
            .unwrap();
        assert_eq!(stored.map(i64::from), Some(seconds), "{uid}");
    }
    let nothing_left = cli::run(&app.db.url, dir, &["jobs", "backfill-duration"]);
    assert!(nothing_left.stdout.contains("0 records examined"), "{}", nothing_left.stdout);
}
