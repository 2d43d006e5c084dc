//! `corpus serve`: the HTTP API, with a bounded graceful shutdown on SIGTERM / Ctrl-C.

use anyhow::{Context, bail};
use tokio::net::TcpListener;

use crate::{
    config::Config,
    db, router,
    server::{self, Limits, Stopped},
    state::AppState,
    telemetry,
};

/// Starts the server and runs until a shutdown signal; in-flight requests then get
/// `SHUTDOWN_GRACE_SECONDS` to finish before they are abandoned.
pub async fn run(config: Config) -> anyhow::Result<()> {
    config.validate()?;
    telemetry::init(&config);
    if config.uses_default_secret() {
        tracing::warn!("APP_SECRET_KEY is not set: using the development default (refused in production)");
    }
    // Once, at start: settings that work for one process but not for several replicas or
    // behind a proxy. None of them stops the server; a single-machine deployment is legitimate.
    for warning in config.deployment_warnings() {
        tracing::warn!("{warning}");
    }
    if !config.metrics_enabled() {
        tracing::info!("GET /metrics is not served: set METRICS_TOKEN to serve it (bearer-token protected)");
    }
    if config.is_development() {
        // A fresh machine needs no separate step in development: initialise on every start.
        db::init::initialize(&config, &mut |line| tracing::info!("db init: {line}")).await?;
    } else {
        let status = db::status::check_schema(&config).await?;
        if !status.pending.is_empty() || status.database.is_err() {
            bail!("the database is not initialised or has pending migrations: run `corpus db init` first");
        }
    }
    let pool = db::connect(&config).await.context("connecting to the database")?;
    let bind = config.http.bind;
    let limits = Limits::from_config(&config);
    let state = AppState::new(config, pool)?;
    // The job worker and scheduler run in-process unless this is an API-only replica. Without
    // them, this process still sweeps its own machine's upload leftovers itself.
    let signal = tokio_util::sync::CancellationToken::new();
    let (background, maintenance) = if state.config.jobs.no_worker {
        tracing::info!("CORPUS_NO_WORKER: no job worker or scheduler in this process (run `corpus worker`)");
        (None, crate::jobs::maintenance::spawn(state.clone()))
    } else {
        let _ = crate::jobs::maintenance::sweep_spool(&state).await;
        (Some(crate::cli::worker::Background::start(&state, true)), None)
    };
    {
        let signal = signal.clone();
        let received = super::signal::shutdown_signal();
        tokio::spawn(async move {
            received.await;
            signal.cancel();
        });
    }
    let change_listener = state.spawn_change_listener();
    let app = router::with_trailing_slash_tolerance(router::build(state));

    let listener = TcpListener::bind(bind).await.with_context(|| format!("binding {bind}"))?;
    tracing::info!(address = %listener.local_addr()?, "listening");
    // Background jobs start stopping at the signal too, alongside the requests in flight.
    let background_stopped = background.map(|background| {
        let signal = signal.clone();
        tokio::spawn(async move {
            signal.cancelled().await;
            background.stop().await;
        })
    });
    let stopped = server::serve(listener, app, limits, signal.clone().cancelled_owned()).await;
    if let Some(task) = background_stopped {
        signal.cancel();
        let _ = task.await;
    }
    if let Some(task) = change_listener {
        task.abort();
    }
    if let Some(task) = maintenance {
        task.abort();
    }
    match stopped {
        Stopped::Finished => tracing::info!("stopped"),
        Stopped::Abandoned | Stopped::TimedOut => tracing::warn!("stopped, abandoning the requests still in flight"),
    }
    Ok(())
}
