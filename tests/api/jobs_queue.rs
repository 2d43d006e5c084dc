//! The job queue, workers and scheduler against a real database: transactional enqueue, a worker
//! killed mid-job, two workers sharing a queue, retries with backoff, cancellation, and two
//! schedulers sharing the periodic jobs.

use std::{
    collections::{BTreeMap, HashSet},
    time::{Duration, Instant},
};

use corpus_te::{
    config::Config,
    db::jobs::{self as queue, NewJob},
    jobs::{
        CancellationToken, Registry,
        scheduler::{Periodic, Scheduler},
        worker::Worker,
    },
    state::AppState,
};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{TestApp, cli::corpus};

/// Fast settings for tests: short polls, leases and backoff.
pub fn fast_jobs(c: &mut Config) {
    c.jobs.job_poll_interval_ms = 100;
    c.jobs.job_lease_seconds = 3;
    c.jobs.job_retry_backoff_seconds = 1;
    c.http.shutdown_grace_seconds = 2;
}

/// The app's state, for workers and schedulers run inside the test.
pub fn state_of(app: &TestApp) -> AppState {
    AppState::new(app.config.clone(), app.pool().clone()).unwrap()
}

/// Starts an in-process worker; cancel the token to stop it.
pub fn start_worker(app: &TestApp) -> (String, CancellationToken, tokio::task::JoinHandle<()>) {
    let worker = Worker::new(state_of(app), Registry::standard());
    let name = worker.name().to_owned();
    let stop = CancellationToken::new();
    let task = tokio::spawn(worker.run(stop.clone()));
    (name, stop, task)
}

async fn enqueue(app: &TestApp, kind: &str, args: Value, max_attempts: i32) -> Uuid {
    queue::enqueue(app.pool(), &NewJob { kind, args, owner: None, max_attempts }).await.unwrap()
}

/// Polls a job until `done` holds for it (or panics after `within`).
pub async fn wait_for(
    app: &TestApp,
    id: Uuid,
    within: Duration,
    done: impl Fn(&queue::JobRow) -> bool,
) -> queue::JobRow {
    let started = Instant::now();
    loop {
        let job = queue::get(app.pool(), id).await.unwrap().expect("the job exists");
        if done(&job) {
            return job;
        }
        assert!(started.elapsed() < within, "job {id} did not get there in {within:?}: {job:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_job_enqueued_in_a_transaction_that_rolls_back_never_exists_nor_runs() {
    let app = TestApp::spawn_with(fast_jobs).await;
    let mut tx = app.pool().begin().await.unwrap();
    let lost = queue::enqueue(&mut *tx, &NewJob { kind: "noop", args: json!({}), owner: None, max_attempts: 1 })
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    let mut tx = app.pool().begin().await.unwrap();
    let kept = queue::enqueue(&mut *tx, &NewJob { kind: "noop", args: json!({}), owner: None, max_attempts: 1 })
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let worker = Worker::new(state_of(&app), Registry::standard());
    let mut ran = 0;
    while worker.run_next().await.unwrap() {
        ran += 1;
    }
    assert_eq!(ran, 1, "only the committed job runs");
    assert!(queue::get(app.pool(), lost).await.unwrap().is_none());
    let job = queue::get(app.pool(), kept).await.unwrap().unwrap();
    assert_eq!(job.state, "SUCCESS");
    assert_eq!(job.result.unwrap()["status"], "success");
}

#[tokio::test]
async fn a_job_whose_worker_process_is_killed_mid_way_is_finished_by_another_worker() {
    let app = TestApp::spawn_with(fast_jobs).await;
    let id = enqueue(&app, "noop", json!({"sleep_ms": 3000}), 3).await;
    // A real `corpus worker` process takes it...
    let mut first = corpus(&app.db.url, app.storage_dir.path())
        .args(["worker", "--no-scheduler"])
        .env("JOB_POLL_INTERVAL_MS", "100")
        .env("JOB_LEASE_SECONDS", "3")
        .spawn()
        .expect("start corpus worker");
    let taken = wait_for(&app, id, Duration::from_secs(30), |j| j.state != "PENDING").await;
    let first_worker = taken.worker.clone().unwrap();
    assert!(first_worker.contains(&format!(":{}:", first.id())), "the process took it: {first_worker}");
    // ...and dies mid-job, without a chance to give it back.
    first.kill().unwrap();
    first.wait().unwrap();
    let (second_worker, stop, task) = start_worker(&app);
    let job = wait_for(&app, id, Duration::from_secs(30), |j| j.state == "SUCCESS").await;
    assert_eq!(job.worker.as_deref(), Some(second_worker.as_str()), "another worker finished it");
    assert_eq!(job.attempts, 2, "the killed attempt counts once, the second one finished");
    stop.cancel();
    task.await.unwrap();
}

#[tokio::test]
async fn two_workers_share_a_queue_and_run_every_job_exactly_once() {
    let app = TestApp::spawn_with(fast_jobs).await;
    let total = 300;
    let mut ids = Vec::new();
    for _ in 0..total {
        ids.push(enqueue(&app, "noop", json!({"sleep_ms": 2}), 1).await);
    }
    let (a, stop_a, task_a) = start_worker(&app);
    let (b, stop_b, task_b) = start_worker(&app);
    let started = Instant::now();
    loop {
        let done: i64 = sqlx::query_scalar("SELECT count(*) FROM jobs WHERE state = 'SUCCESS'")
            .fetch_one(app.pool())
            .await
            .unwrap();
        if done == total {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "{done} of {total} done");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop_a.cancel();
    stop_b.cancel();
    task_a.await.unwrap();
    task_b.await.unwrap();
    let rows: Vec<(Uuid, i32, String)> =
        sqlx::query_as("SELECT id, attempts, worker FROM jobs").fetch_all(app.pool()).await.unwrap();
    assert_eq!(rows.len(), total as usize);
    assert!(rows.iter().all(|(_, attempts, _)| *attempts == 1), "every job was claimed exactly once");
    let mut per_worker = BTreeMap::new();
    for (_, _, worker) in &rows {
        *per_worker.entry(worker.clone()).or_insert(0) += 1;
    }
    assert_eq!(per_worker.len(), 2, "both workers ran jobs: {per_worker:?}");
    assert!(per_worker.contains_key(&a) && per_worker.contains_key(&b));
    assert_eq!(rows.iter().map(|r| r.0).collect::<HashSet<_>>(), ids.into_iter().collect::<HashSet<_>>());
}

#[tokio::test]
async fn a_failing_job_is_retried_with_backoff_and_ends_in_failure_with_its_error() {
    let app = TestApp::spawn_with(fast_jobs).await;
    let id = enqueue(&app, "noop", json!({"fail": "the disk is on fire"}), 3).await;
    let flaky = enqueue(&app, "noop", json!({"fail": "transient", "fail_attempts": 1}), 3).await;
    let (_, stop, task) = start_worker(&app);
    // After the first failure it waits its backoff (1 s) before the second attempt.
    let retried = wait_for(&app, id, Duration::from_secs(10), |j| j.attempts == 1 && j.state == "PENDING").await;
    assert_eq!(retried.error.as_deref(), Some("the disk is on fire"));
    let wait = (retried.run_at - chrono::Utc::now()).num_milliseconds();
    assert!(wait > 0, "the retry waits for its backoff");
    let job = wait_for(&app, id, Duration::from_secs(30), |j| j.state == "FAILURE").await;
    assert_eq!(job.attempts, 3);
    assert_eq!(job.error.as_deref(), Some("the disk is on fire"));
    // Backoff of 1 s then 2 s between the three attempts.
    let spent = (job.finished_at.unwrap() - job.created_at).num_milliseconds();
    assert!(spent >= 3000, "attempts were spaced by the backoff: {spent} ms");
    assert!(job.expires_at.is_some(), "a failed job is kept for its retention, then purged");
    let recovered = wait_for(&app, flaky, Duration::from_secs(30), |j| j.state == "SUCCESS").await;
    assert_eq!(recovered.attempts, 2);
    assert_eq!(recovered.error, None);
    stop.cancel();
    task.await.unwrap();
}

#[tokio::test]
async fn cancelling_a_running_job_stops_it_and_it_stays_revoked() {
    let app = TestApp::spawn_with(fast_jobs).await;
    let id = enqueue(&app, "noop", json!({"sleep_ms": 60_000}), 3).await;
    let (_, stop, task) = start_worker(&app);
    // While it runs, its progress is reported as the original's tasks did.
    let running = wait_for(&app, id, Duration::from_secs(10), |j| j.state == "PROGRESS").await;
    assert_eq!(running.progress.unwrap(), json!({"current": 0, "total": 60_000, "status": "sleeping"}));
    let state = queue::cancel(app.pool(), id, 3600.0).await.unwrap();
    assert_eq!(state.as_deref(), Some("REVOKED"));
    // The worker notices at its next heartbeat and frees the slot: a new job runs meanwhile.
    let next = enqueue(&app, "noop", json!({}), 1).await;
    wait_for(&app, next, Duration::from_secs(10), |j| j.state == "SUCCESS").await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let job = queue::get(app.pool(), id).await.unwrap().unwrap();
    assert_eq!(job.state, "REVOKED");
    assert_eq!(job.result, None);
    // Cancelling what has ended changes nothing; an unknown id is no job.
    assert_eq!(queue::cancel(app.pool(), next, 3600.0).await.unwrap().as_deref(), Some("SUCCESS"));
    assert_eq!(queue::cancel(app.pool(), Uuid::new_v4(), 3600.0).await.unwrap(), None);
    stop.cancel();
    task.await.unwrap();
}

#[tokio::test]
async fn a_worker_shutting_down_gives_its_unfinished_jobs_back_without_counting_the_attempt() {
    let app = TestApp::spawn_with(fast_jobs).await;
    let id = enqueue(&app, "noop", json!({"sleep_ms": 60_000}), 3).await;
    let (_, stop, task) = start_worker(&app);
    wait_for(&app, id, Duration::from_secs(10), |j| j.state != "PENDING").await;
    stop.cancel();
    task.await.unwrap();
    let job = queue::get(app.pool(), id).await.unwrap().unwrap();
    assert_eq!((job.state.as_str(), job.attempts), ("PENDING", 0), "{job:?}");
}

#[tokio::test]
async fn two_schedulers_run_each_periodic_job_once_per_period() {
    let app = TestApp::spawn_with(fast_jobs).await;
    let schedule = vec![
        Periodic { kind: "noop", every: Duration::from_secs(1), args: json!({}) },
        Periodic { kind: "health_check", every: Duration::from_secs(2), args: json!({}) },
    ];
    let mut a = Scheduler::new(state_of(&app), schedule.clone());
    let mut b = Scheduler::new(state_of(&app), schedule);
    let started = Instant::now();
    while started.elapsed() < Duration::from_millis(4500) {
        let (ra, rb) = tokio::join!(a.tick(), b.tick());
        ra.unwrap();
        rb.unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for (kind, least, most) in [("noop", 4, 6), ("health_check", 2, 4)] {
        let slots: Vec<i64> = sqlx::query_scalar("SELECT slot FROM periodic_runs WHERE kind = $1 ORDER BY slot")
            .bind(kind)
            .fetch_all(app.pool())
            .await
            .unwrap();
        let jobs: i64 = sqlx::query_scalar("SELECT count(*) FROM jobs WHERE kind = $1")
            .bind(kind)
            .fetch_one(app.pool())
            .await
            .unwrap();
        assert_eq!(jobs as usize, slots.len(), "{kind}: one job per period taken");
        assert!((least..=most).contains(&slots.len()), "{kind}: {} periods in 4.5 s", slots.len());
        assert!(slots.windows(2).all(|w| w[1] == w[0] + 1), "{kind}: consecutive periods, none twice: {slots:?}");
    }
    // Every run is linked to its job.
    let unlinked: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM periodic_runs p LEFT JOIN jobs j ON j.id = p.job_id WHERE j.id IS NULL",
    )
    .fetch_one(app.pool())
    .await
    .unwrap();
    assert_eq!(unlinked, 0);
}

#[tokio::test]
async fn an_attempt_that_runs_past_the_time_limit_is_stopped_and_fails_with_a_clear_error() {
    let app = TestApp::spawn_with(|c| {
        fast_jobs(c);
        c.jobs.job_time_limit_seconds = 1;
    })
    .await;
    let id = enqueue(&app, "noop", json!({"sleep_ms": 30_000}), 1).await;
    let worker = Worker::new(state_of(&app), Registry::standard());
    let started = Instant::now();
    assert!(worker.run_next().await.unwrap());
    assert!(started.elapsed() < Duration::from_secs(20), "stopped at its limit, not after 30 s");
    let job = queue::get(app.pool(), id).await.unwrap().unwrap();
    assert_eq!(job.state, "FAILURE");
    assert_eq!(job.error.as_deref(), Some("the job ran longer than its time limit of 1 s"));
}
