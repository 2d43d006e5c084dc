//! `corpus worker`: runs background jobs (and, unless told not to, the scheduler of periodic
//! jobs) until SIGTERM / Ctrl-C. Any number may run, on any machine sharing the database.

use anyhow::Context;
use tokio_util::sync::CancellationToken;

use crate::{
    config::Config,
    db,
    jobs::{
        Registry,
        scheduler::{Scheduler, standard_schedule},
        worker::Worker,
    },
    state::AppState,
    telemetry,
};

/// Options of `corpus worker`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Run jobs only; leave periodic jobs to other processes' schedulers.
    #[arg(long)]
    pub no_scheduler: bool,
}

/// Handles of the in-process worker and scheduler.
#[derive(Debug)]
pub struct Background {
    shutdown: CancellationToken,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Background {
    /// Starts a worker and (with `scheduler`) the scheduler on `state`.
    pub fn start(state: &AppState, scheduler: bool) -> Self {
        let shutdown = CancellationToken::new();
        let mut tasks = vec![tokio::spawn(Worker::new(state.clone(), Registry::standard()).run(shutdown.clone()))];
        if scheduler {
            let schedule = standard_schedule(state);
            tasks.push(tokio::spawn(Scheduler::new(state.clone(), schedule).run(shutdown.clone())));
        }
        Self { shutdown, tasks }
    }

    /// Stops claiming, lets running jobs finish within `SHUTDOWN_GRACE_SECONDS` and gives the
    /// others back to the queue.
    pub async fn stop(self) {
        self.shutdown.cancel();
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

/// Runs a worker until a shutdown signal.
pub async fn run(config: Config, args: Args) -> anyhow::Result<()> {
    config.validate()?;
    telemetry::init(&config);
    let status = db::status::check_schema(&config).await?;
    if !status.pending.is_empty() || status.database.is_err() {
        anyhow::bail!("the database is not initialised or has pending migrations: run `corpus db init` first");
    }
    let pool = db::connect(&config).await.context("connecting to the database")?;
    let state = AppState::new(config, pool)?;
    // This machine's own crash leftovers; the periodic cleanup sweeps only the machine it runs on.
    let _ = crate::jobs::maintenance::sweep_spool(&state).await;
    // Installed before the first job can start, so a SIGTERM from then on stops cleanly.
    let signal = super::signal::shutdown_signal();
    let background = Background::start(&state, !args.no_scheduler);
    signal.await;
    background.stop().await;
    Ok(())
}
