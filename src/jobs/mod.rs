//! Background work: a durable job queue in PostgreSQL ([`crate::db::jobs`]), workers that run
//! jobs ([`worker`]), the scheduler of periodic jobs ([`scheduler`]) and the job kinds.
//!
//! Why our own small queue: a job must be enqueued in the same transaction as the write that
//! needs it (it exists only if that write commits), which `apalis-postgres` could not do (it
//! enqueues through its own pool). The queue is a table claimed with `FOR UPDATE SKIP LOCKED`,
//! leases renewed by heartbeats, fenced writes, retries with exponential backoff and a NOTIFY on
//! insert so an idle worker starts a new job at once.
//!
//! Every job is idempotent: it may run again after its worker died mid-way, so it writes its
//! results under keys of its own (the job id) and re-checks what it changes. Nothing here deletes
//! user content: `cleanup` removes only abandoned upload leftovers, spool files, expired one-time
//! codes and expired export files.

pub mod kinds;
pub mod maintenance;
pub mod queue;
pub mod registry;
pub mod scheduler;
pub mod worker;

use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
pub use tokio_util::sync::CancellationToken;
use uuid::Uuid;

pub use self::registry::{Job, JobFuture, Registry};
use crate::state::AppState;

/// What a running job gets: its arguments, the application's handles, a way to report progress
/// and a token that is cancelled when the job must stop (revoked, its time is up, or the worker
/// is shutting down).
#[derive(Clone)]
pub struct JobContext {
    /// The job's id (also the prefix of any file it writes, so a re-run overwrites, never adds).
    pub id: Uuid,
    /// Its kind.
    pub kind: String,
    /// Its arguments.
    pub args: Value,
    /// The user who asked for it.
    pub owner: Option<Uuid>,
    /// This attempt's number (1 for the first).
    pub attempt: i32,
    /// Database, storage, configuration.
    pub state: AppState,
    /// Cancelled when the job must stop; long loops check it (`cancel.is_cancelled()`) or select
    /// on `cancel.cancelled()`.
    pub cancel: CancellationToken,
    progress: Arc<Mutex<Option<Value>>>,
}

impl std::fmt::Debug for JobContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobContext").field("id", &self.id).field("kind", &self.kind).finish_non_exhaustive()
    }
}

impl JobContext {
    /// A context for running a job outside a worker (commands, tests): progress is kept in memory.
    pub fn detached(state: AppState, kind: &str, args: Value, owner: Option<Uuid>) -> Self {
        Self {
            id: Uuid::new_v4(),
            kind: kind.to_owned(),
            args,
            owner,
            attempt: 1,
            state,
            cancel: CancellationToken::new(),
            progress: Arc::default(),
        }
    }

    /// Reports progress: `current` of `total` done, with a short status line. Cheap and
    /// synchronous (callable from any loop or callback); the worker writes the latest value to
    /// the database about once a second, where `GET /tasks/status/{id}` shows it.
    pub fn progress(&self, current: u64, total: u64, status: &str) {
        let value = json!({ "current": current, "total": total, "status": status });
        if let Ok(mut slot) = self.progress.lock() {
            *slot = Some(value);
        }
    }

    /// A progress callback to hand to long functions that do not know about jobs.
    pub fn progress_fn(&self) -> impl Fn(u64, u64, &str) + Send + Sync + 'static {
        let ctx = self.clone();
        move |current, total, status| ctx.progress(current, total, status)
    }

    /// Takes the progress reported since the last call.
    pub(crate) fn take_progress(&self) -> Option<Value> {
        self.progress.lock().ok().and_then(|mut slot| slot.take())
    }

    /// An error unless the job may go on (cancelled: revoked, timed out or shutting down).
    pub fn check_cancelled(&self) -> anyhow::Result<()> {
        if self.cancel.is_cancelled() { anyhow::bail!("the job was cancelled") } else { Ok(()) }
    }

    /// A string argument.
    pub fn arg_str(&self, name: &str) -> Option<&str> {
        self.args.get(name).and_then(Value::as_str)
    }

    /// An integer argument.
    pub fn arg_i64(&self, name: &str) -> Option<i64> {
        self.args.get(name).and_then(Value::as_i64)
    }
}
