//! The scheduler of periodic jobs (Celery beat's replacement).
//!
//! Time is cut into slots of each job's period, counted on the database's clock. Every scheduler
//! (any number, on any machine) tries to take the current slot of each periodic job in
//! `periodic_runs`; the slot's primary key lets exactly one succeed, and it enqueues the run in
//! the same transaction. So each period runs once, whichever scheduler is up, and after a
//! downtime the current period runs at once (missed periods are not replayed one by one).

use std::time::Duration;

use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::{
    db::jobs::{self as queue, NewJob},
    state::AppState,
};

/// One periodic job.
#[derive(Debug, Clone)]
pub struct Periodic {
    /// Its kind.
    pub kind: &'static str,
    /// How often it runs.
    pub every: Duration,
    /// Its arguments.
    pub args: Value,
}

/// The service's periodic jobs: `cleanup` every `UPLOAD_CLEANUP_INTERVAL_SECONDS` (0 disables it),
/// `health_check` every 5 minutes, `optimize_db` and `daily_report` daily, and `backup` every
/// `BACKUP_INTERVAL_HOURS` when a backup destination is set.
pub fn standard_schedule(state: &AppState) -> Vec<Periodic> {
    let mut schedule = Vec::new();
    let cleanup = state.config.uploads.upload_cleanup_interval_seconds;
    if cleanup > 0 {
        schedule.push(Periodic { kind: "cleanup", every: Duration::from_secs(cleanup), args: json!({}) });
    }
    schedule.push(Periodic { kind: "health_check", every: Duration::from_secs(300), args: json!({}) });
    schedule.push(Periodic { kind: "optimize_db", every: Duration::from_secs(86_400), args: json!({}) });
    schedule.push(Periodic { kind: "daily_report", every: Duration::from_secs(86_400), args: json!({}) });
    let backup_hours = u64::from(state.config.backups.backup_interval_hours);
    if backup_hours > 0 && matches!(crate::ops::rotation::destination(&state.config), Ok(Some(_))) {
        schedule.push(Periodic { kind: "backup", every: Duration::from_secs(backup_hours * 3600), args: json!({}) });
    }
    schedule
}

/// Enqueues the periodic jobs whose current slot nobody has taken yet.
#[derive(Debug, Clone)]
pub struct Scheduler {
    state: AppState,
    schedule: Vec<Periodic>,
    /// The last slot seen taken (by us or another scheduler), per job: no need to try it again.
    seen: std::collections::HashMap<&'static str, i64>,
}

impl Scheduler {
    /// A scheduler of `schedule`.
    pub fn new(state: AppState, schedule: Vec<Periodic>) -> Self {
        Self { state, schedule, seen: Default::default() }
    }

    /// Takes the current slot of every periodic job that is free and enqueues its run; returns
    /// the kinds enqueued.
    pub async fn tick(&mut self) -> anyhow::Result<Vec<&'static str>> {
        let now = queue::now_epoch(&self.state.db).await?;
        let mut started = Vec::new();
        for periodic in &self.schedule {
            let slot = (now / periodic.every.as_secs_f64().max(1.0)).floor() as i64;
            if self.seen.get(periodic.kind) == Some(&slot) {
                continue;
            }
            let id = Uuid::new_v4();
            let mut tx = self.state.db.begin().await?;
            if !queue::take_period_slot(&mut *tx, periodic.kind, slot, id).await? {
                self.seen.insert(periodic.kind, slot);
                continue;
            }
            let max_attempts = self.state.config.jobs.job_max_attempts;
            let job = NewJob { kind: periodic.kind, args: periodic.args.clone(), owner: None, max_attempts };
            queue::enqueue_with_id(&mut *tx, id, &job).await?;
            tx.commit().await?;
            self.seen.insert(periodic.kind, slot);
            started.push(periodic.kind);
        }
        Ok(started)
    }

    /// Ticks every second (the shortest period is a second) until `shutdown`.
    pub async fn run(mut self, shutdown: CancellationToken) {
        let kinds: Vec<_> = self.schedule.iter().map(|p| p.kind).collect();
        tracing::info!(jobs = ?kinds, "scheduler started");
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {},
                () = shutdown.cancelled() => break,
            }
            match self.tick().await {
                Ok(started) if !started.is_empty() => tracing::debug!(jobs = ?started, "periodic jobs enqueued"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %format!("{e:#}"), "scheduling periodic jobs failed"),
            }
        }
    }
}
