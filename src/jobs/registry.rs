//! The kinds of job a worker can run.

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use futures::future::BoxFuture;
use serde_json::Value;

use super::JobContext;

/// What running a job yields: its JSON result, or an error (retried while attempts remain).
pub type JobFuture = BoxFuture<'static, anyhow::Result<Value>>;

/// A kind of background job.
pub trait Job: Send + Sync + 'static {
    /// The stored kind name (`export_user_data`, ...).
    fn kind(&self) -> &'static str;
    /// Runs one attempt. Must be idempotent: an attempt may be repeated after a worker died.
    fn run(&self, ctx: JobContext) -> JobFuture;
    /// The longest one attempt may take (default: `JOB_TIME_LIMIT_SECONDS`).
    fn time_limit(&self) -> Option<Duration> {
        None
    }
    /// Attempts allowed (default: `JOB_MAX_ATTEMPTS`).
    fn max_attempts(&self) -> Option<i32> {
        None
    }
}

/// A job made of a name and an async function.
pub struct FnJob {
    kind: &'static str,
    run: fn(JobContext) -> JobFuture,
    max_attempts: Option<i32>,
    time_limit: Option<Duration>,
}

impl FnJob {
    /// A job kind running `run`.
    pub const fn new(kind: &'static str, run: fn(JobContext) -> JobFuture) -> Self {
        Self { kind, run, max_attempts: None, time_limit: None }
    }

    /// With its own time limit per attempt.
    pub const fn limit(mut self, time_limit: Duration) -> Self {
        self.time_limit = Some(time_limit);
        self
    }

    /// With its own number of attempts.
    pub const fn attempts(mut self, max_attempts: i32) -> Self {
        self.max_attempts = Some(max_attempts);
        self
    }
}

impl Job for FnJob {
    fn kind(&self) -> &'static str {
        self.kind
    }

    fn run(&self, ctx: JobContext) -> JobFuture {
        (self.run)(ctx)
    }

    fn max_attempts(&self) -> Option<i32> {
        self.max_attempts
    }

    fn time_limit(&self) -> Option<Duration> {
        self.time_limit
    }
}

/// The job kinds known to this process; a worker claims only these.
#[derive(Clone, Default)]
pub struct Registry {
    jobs: BTreeMap<&'static str, Arc<dyn Job>>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.jobs.keys()).finish()
    }
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) a kind.
    pub fn register(&mut self, job: impl Job) -> &mut Self {
        self.jobs.insert(job.kind(), Arc::new(job));
        self
    }

    /// The kind named `kind`.
    pub fn get(&self, kind: &str) -> Option<Arc<dyn Job>> {
        self.jobs.get(kind).cloned()
    }

    /// The names of every kind.
    pub fn kinds(&self) -> Vec<String> {
        self.jobs.keys().map(|k| (*k).to_owned()).collect()
    }
}
