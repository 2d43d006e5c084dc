//! A job worker: claims jobs from the queue and runs up to `JOB_CONCURRENCY` at once.
//!
//! New jobs wake it through PostgreSQL notifications (`corpus_jobs`), with a poll every
//! `JOB_POLL_INTERVAL_MS` should one be lost. While a job runs its lease is renewed; when the job
//! is revoked or taken over (the lease ran out) it is stopped. Each poll also hands back jobs
//! whose worker died. On shutdown the worker claims nothing more, lets running jobs finish
//! within `SHUTDOWN_GRACE_SECONDS`, then stops them and gives them back to the queue without
//! counting the attempt.

use std::{
    panic::AssertUnwindSafe,
    sync::Arc,
    time::{Duration, Instant},
};

use futures::FutureExt;
use serde_json::Value;
use sqlx::postgres::PgListener;
use tokio::sync::{Notify, Semaphore};
use tokio_util::{sync::CancellationToken, task::TaskTracker};

use super::{JobContext, Registry};
use crate::{
    db::jobs::{self as queue, Claim, JobRow},
    state::AppState,
};

/// The notification channel new jobs are announced on.
pub const CHANNEL: &str = "corpus_jobs";

/// How long a stopped job (revoked, out of time, shutting down) gets to return on its own
/// before it is dropped.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// How often reported progress is written to the database.
const PROGRESS_FLUSH: Duration = Duration::from_secs(1);

/// The longest wait between two attempts of a failing job.
const MAX_BACKOFF_SECONDS: f64 = 3600.0;

/// Runs jobs of the kinds in its registry.
#[derive(Clone, Debug)]
pub struct Worker {
    state: AppState,
    registry: Arc<Registry>,
    name: String,
}

/// How one attempt ended.
enum Outcome {
    Done(Value),
    Failed(String),
    TimedOut(Duration),
    /// Revoked, or no longer this worker's: nothing more to write.
    Lost,
    /// The worker is stopping: give the job back.
    Shutdown,
}

impl Worker {
    /// A worker named after this host and process (plus a random suffix, so two workers in one
    /// process differ).
    pub fn new(state: AppState, registry: Registry) -> Self {
        let host = std::fs::read_to_string("/etc/hostname").map(|h| h.trim().to_owned()).unwrap_or_default();
        let host = if host.is_empty() { "worker".to_owned() } else { host };
        let suffix = &uuid::Uuid::new_v4().simple().to_string()[..6];
        let name = format!("{host}:{}:{suffix}", std::process::id());
        Self { state, registry: Arc::new(registry), name }
    }

    /// This worker's name (stored in the jobs it runs).
    pub fn name(&self) -> &str {
        &self.name
    }

    fn lease_seconds(&self) -> f64 {
        self.state.config.jobs.job_lease_seconds as f64
    }

    fn retention_seconds(&self) -> f64 {
        self.state.config.jobs.job_result_retention_hours as f64 * 3600.0
    }

    /// Runs until `shutdown` is cancelled, then finishes or gives back its running jobs.
    pub async fn run(self, shutdown: CancellationToken) {
        let jobs = &self.state.config.jobs;
        let poll = Duration::from_millis(jobs.job_poll_interval_ms);
        let grace = Duration::from_secs(self.state.config.http.shutdown_grace_seconds);
        let wake = Arc::new(Notify::new());
        let listener = tokio::spawn(listen(self.state.db.clone(), wake.clone()));
        let slots = Arc::new(Semaphore::new(jobs.job_concurrency));
        let tracker = TaskTracker::new();
        let stop_running = CancellationToken::new();
        let kinds = self.registry.kinds();
        let mut last_reclaim: Option<Instant> = None;
        tracing::info!(worker = %self.name, concurrency = jobs.job_concurrency, kinds = ?kinds, "job worker started");
        loop {
            let first = tokio::select! {
                slot = slots.clone().acquire_owned() => match slot { Ok(slot) => slot, Err(_) => break },
                () = shutdown.cancelled() => break,
            };
            // Every free slot is filled by one claim.
            let mut free = vec![first];
            while let Ok(slot) = slots.clone().try_acquire_owned() {
                free.push(slot);
            }
            if last_reclaim.is_none_or(|at| at.elapsed() >= poll) {
                last_reclaim = Some(Instant::now());
                match queue::reclaim_expired(&self.state.db, self.retention_seconds()).await {
                    Ok(0) => {}
                    Ok(n) => tracing::warn!(jobs = n, "took back jobs whose worker stopped"),
                    Err(e) => tracing::warn!(error = %e, "looking for jobs of stopped workers failed"),
                }
            }
            let claimed =
                queue::claim_many(&self.state.db, &self.name, &kinds, self.lease_seconds(), free.len() as i64).await;
            let claimed = match claimed {
                Ok(jobs) => jobs,
                Err(e) => {
                    tracing::warn!(error = %e, "claiming jobs failed");
                    Vec::new()
                }
            };
            let got_all = claimed.len() == free.len();
            for job in claimed {
                let Some(slot) = free.pop() else { break };
                let worker = self.clone();
                let stop = stop_running.clone();
                tracker.spawn(async move {
                    worker.run_claimed(job, stop).await;
                    drop(slot);
                });
            }
            drop(free);
            if got_all {
                // Perhaps more are waiting: look again as soon as a slot frees up.
                continue;
            }
            tokio::select! {
                () = wake.notified() => {},
                () = tokio::time::sleep(poll) => {},
                () = shutdown.cancelled() => break,
            }
        }
        tracker.close();
        if !tracker.is_empty() {
            tracing::info!(running = tracker.len(), "job worker stopping: letting running jobs finish");
        }
        if tokio::time::timeout(grace, tracker.wait()).await.is_err() {
            stop_running.cancel();
            tracker.wait().await;
        }
        listener.abort();
        tracing::info!(worker = %self.name, "job worker stopped");
    }

    /// Claims one runnable job and runs it to its end; false when there was none (tests,
    /// draining the queue from a command).
    pub async fn run_next(&self) -> anyhow::Result<bool> {
        let kinds = self.registry.kinds();
        match queue::claim(&self.state.db, &self.name, &kinds, self.lease_seconds()).await? {
            Some(job) => {
                self.run_claimed(job, CancellationToken::new()).await;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    async fn run_claimed(&self, job: JobRow, stop: CancellationToken) {
        let claim = Claim { id: job.id, worker: self.name.clone(), attempt: job.attempts };
        let config = &self.state.config.jobs;
        let started = Instant::now();
        let Some(kind) = self.registry.get(&job.kind) else {
            self.record(&claim, Outcome::Failed(format!("unknown job kind `{}`", job.kind)), &job.kind).await;
            return;
        };
        let time_limit = kind.time_limit().unwrap_or(Duration::from_secs(config.job_time_limit_seconds));
        let ctx = JobContext {
            id: job.id,
            kind: job.kind.clone(),
            args: job.args.clone(),
            owner: job.owner,
            attempt: job.attempts,
            state: self.state.clone(),
            cancel: CancellationToken::new(),
            progress: Default::default(),
        };
        let mut run = AssertUnwindSafe(kind.run(ctx.clone())).catch_unwind().boxed();
        let heartbeat_every = Duration::from_secs_f64((self.lease_seconds() / 3.0).max(0.5));
        let mut heartbeat = tokio::time::interval_at(tokio::time::Instant::now() + heartbeat_every, heartbeat_every);
        let mut flush = tokio::time::interval_at(tokio::time::Instant::now() + PROGRESS_FLUSH, PROGRESS_FLUSH);
        let deadline = tokio::time::sleep(time_limit);
        tokio::pin!(deadline);
        let finished = |result: Result<anyhow::Result<Value>, _>| match result {
            Ok(Ok(value)) => Outcome::Done(value),
            Ok(Err(e)) => Outcome::Failed(format!("{e:#}")),
            Err(_) => Outcome::Failed("the job panicked".to_owned()),
        };
        let mut outcome = loop {
            tokio::select! {
                result = &mut run => break finished(result),
                () = &mut deadline => break Outcome::TimedOut(time_limit),
                () = stop.cancelled() => break Outcome::Shutdown,
                _ = flush.tick() => {
                    if let Some(progress) = ctx.take_progress() {
                        match queue::set_progress(&self.state.db, &claim, &progress).await {
                            Ok(true) => {}
                            Ok(false) => break Outcome::Lost,
                            Err(e) => tracing::warn!(error = %e, job = %claim.id, "recording job progress failed"),
                        }
                    }
                }
                _ = heartbeat.tick() => {
                    match queue::heartbeat(&self.state.db, &claim, self.lease_seconds()).await {
                        Ok(true) => {}
                        Ok(false) => break Outcome::Lost,
                        Err(e) => tracing::warn!(error = %e, job = %claim.id, "renewing a job's lease failed"),
                    }
                }
            }
        };
        if matches!(outcome, Outcome::TimedOut(_) | Outcome::Lost | Outcome::Shutdown) {
            // Ask it to stop, and give it a moment to do so cleanly before dropping it.
            ctx.cancel.cancel();
            if let Ok(result) = tokio::time::timeout(STOP_GRACE, &mut run).await
                && matches!(outcome, Outcome::Shutdown)
                && matches!(result, Ok(Ok(_)))
            {
                outcome = finished(result);
            }
        }
        drop(run);
        let elapsed_ms = started.elapsed().as_millis() as u64;
        match &outcome {
            Outcome::Done(_) => tracing::info!(job = %claim.id, kind = %job.kind, elapsed_ms, "job succeeded"),
            Outcome::Failed(error) => {
                tracing::warn!(job = %claim.id, kind = %job.kind, elapsed_ms, error = %error, "job attempt failed")
            }
            Outcome::TimedOut(limit) => {
                tracing::warn!(job = %claim.id, kind = %job.kind, limit_s = limit.as_secs(), "job ran out of time")
            }
            Outcome::Lost => tracing::info!(job = %claim.id, kind = %job.kind, "job stopped: revoked or taken over"),
            Outcome::Shutdown => tracing::info!(job = %claim.id, kind = %job.kind, "job given back: shutting down"),
        }
        self.record(&claim, outcome, &job.kind).await;
    }

    async fn record(&self, claim: &Claim, outcome: Outcome, kind: &str) {
        let db = &self.state.db;
        let retention = self.retention_seconds();
        let written = match outcome {
            Outcome::Done(value) => queue::succeed(db, claim, &value, retention).await.map(drop),
            Outcome::Failed(error) => self.fail(claim, &error).await,
            Outcome::TimedOut(limit) => {
                self.fail(claim, &format!("the job ran longer than its time limit of {} s", limit.as_secs())).await
            }
            Outcome::Lost => Ok(()),
            Outcome::Shutdown => queue::release(db, claim).await.map(drop),
        };
        if let Err(e) = written {
            tracing::warn!(error = %e, job = %claim.id, kind, "recording a job's end failed (its lease will run out)");
        }
    }

    async fn fail(&self, claim: &Claim, error: &str) -> sqlx::Result<()> {
        let base = self.state.config.jobs.job_retry_backoff_seconds as f64;
        let backoff = backoff_seconds(base, claim.attempt);
        let state = queue::fail(&self.state.db, claim, error, backoff, self.retention_seconds()).await?;
        if state.as_deref() == Some(queue::state::PENDING) {
            tracing::info!(job = %claim.id, retry_in_s = backoff, "job will be retried");
        }
        Ok(())
    }
}

/// Seconds before the retry that follows failed attempt `attempt` (1-based): `base`, then
/// doubled each time, at most an hour.
pub fn backoff_seconds(base: f64, attempt: i32) -> f64 {
    let exponent = (attempt.max(1) - 1).min(30);
    (base * 2f64.powi(exponent)).min(MAX_BACKOFF_SECONDS)
}

/// Wakes the worker whenever a job is announced; reconnects after a lost connection.
async fn listen(pool: sqlx::PgPool, wake: Arc<Notify>) {
    loop {
        let listened: sqlx::Result<()> = async {
            let mut listener = PgListener::connect_with(&pool).await?;
            listener.listen(CHANNEL).await?;
            // Jobs announced while this listener was down are found by the next poll.
            wake.notify_one();
            loop {
                listener.recv().await?;
                wake.notify_one();
            }
        }
        .await;
        if let Err(e) = listened {
            tracing::debug!(error = %e, "job notifications lost; polling until they are back");
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::backoff_seconds;

    #[test]
    fn backoff_doubles_per_attempt_and_is_capped() {
        assert_eq!(backoff_seconds(10.0, 1), 10.0);
        assert_eq!(backoff_seconds(10.0, 2), 20.0);
        assert_eq!(backoff_seconds(10.0, 4), 80.0);
        assert_eq!(backoff_seconds(10.0, 40), 3600.0);
        assert_eq!(backoff_seconds(0.5, 0), 0.5);
    }
}
