//! Every job kind of the service.

pub mod dataset;
pub mod export;
pub mod media;
pub mod ops;
pub mod reports;

use std::time::Duration;

use futures::FutureExt;
use serde_json::{Value, json};

use super::{JobContext, Registry, registry::FnJob};

/// The longest a scheduled backup may run (a dump and a copy of every local object).
const BACKUP_TIME_LIMIT: Duration = Duration::from_secs(12 * 3600);
/// The longest a dataset export may run (every selected object copied into one archive).
const DATASET_EXPORT_TIME_LIMIT: Duration = Duration::from_secs(12 * 3600);

impl Registry {
    /// Every kind of the service.
    pub fn standard() -> Self {
        let mut registry = Self::new();
        register_all(&mut registry);
        registry
    }
}

/// Registers every kind.
pub fn register_all(registry: &mut Registry) {
    registry
        .register(FnJob::new("noop", |ctx| noop(ctx).boxed()))
        .register(FnJob::new("cleanup", |ctx| ops::cleanup(ctx).boxed()))
        .register(FnJob::new("optimize_db", |ctx| ops::optimize_db(ctx).boxed()))
        .register(FnJob::new("health_check", |ctx| ops::health_check(ctx).boxed()).attempts(1))
        .register(FnJob::new("backup", |ctx| ops::backup(ctx).boxed()).limit(BACKUP_TIME_LIMIT))
        .register(FnJob::new("export_user_data", |ctx| export::export_user_data(ctx).boxed()))
        .register(
            FnJob::new(dataset::KIND, |ctx| dataset::export_dataset(ctx).boxed()).limit(DATASET_EXPORT_TIME_LIMIT),
        )
        .register(FnJob::new("media_facts", |ctx| media::media_facts(ctx).boxed()))
        .register(FnJob::new("backfill_duration", |ctx| media::backfill_duration(ctx).boxed()))
        .register(FnJob::new("generate_statistics", |ctx| reports::generate_statistics(ctx).boxed()))
        .register(FnJob::new("daily_report", |ctx| reports::daily_report(ctx).boxed()))
        .register(FnJob::new("user_report", |ctx| reports::user_report(ctx).boxed()));
}

/// Does nothing (benchmarks, tests): args `sleep_ms` (wait this long, stopping when cancelled)
/// and `fail` (a message: fail with it on the first `fail_attempts` attempts, all by default).
async fn noop(ctx: JobContext) -> anyhow::Result<Value> {
    if let Some(ms) = ctx.arg_i64("sleep_ms").filter(|ms| *ms > 0) {
        let total = ms as u64;
        ctx.progress(0, total, "sleeping");
        tokio::select! {
            () = tokio::time::sleep(Duration::from_millis(total)) => {},
            () = ctx.cancel.cancelled() => anyhow::bail!("cancelled while sleeping"),
        }
        ctx.progress(total, total, "slept");
    }
    if let Some(message) = ctx.arg_str("fail") {
        let fail_attempts = ctx.arg_i64("fail_attempts").unwrap_or(i64::MAX);
        if i64::from(ctx.attempt) <= fail_attempts {
            anyhow::bail!("{message}");
        }
    }
    Ok(json!({ "status": "success", "attempt": ctx.attempt }))
}
