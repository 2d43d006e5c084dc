//! The periodic maintenance sweep: abandoned resumable uploads, spool files left by a crash, and
//! expired OTP rows.

use std::time::Duration;

use crate::{
    auth::otp,
    http::records::upload::{
        cleanup_abandoned_uploads,
        spool::{SPOOL_MIN_AGE, spool_dir, sweep_spool_dir},
    },
    state::AppState,
};

/// Expired OTP rows are kept this long (for support questions), then deleted.
const OTP_RETENTION: Duration = Duration::from_secs(24 * 60 * 60);

/// What one sweep removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SweepReport {
    /// Abandoned upload sessions removed (with their chunks).
    pub uploads: u64,
    /// Spool files removed that no live process held (leftovers of a crash).
    pub spool_files: u64,
    /// OTP rows removed.
    pub otps: u64,
}

/// Removes the spool files that crashed processes left in `UPLOAD_TMP_DIR` (see
/// [`crate::http::records::upload::spool`] for why this is safe in a shared directory).
pub async fn sweep_spool(state: &AppState) -> anyhow::Result<u64> {
    let dir = spool_dir(state.config.uploads.upload_tmp_dir.as_deref());
    Ok(tokio::task::spawn_blocking(move || sweep_spool_dir(&dir, SPOOL_MIN_AGE)).await??)
}

/// Runs one sweep now.
pub async fn sweep(state: &AppState) -> anyhow::Result<SweepReport> {
    let ttl = Duration::from_secs(state.config.uploads.upload_session_ttl_minutes.max(1) as u64 * 60);
    // A spool directory that cannot be read must not stop the rest of the sweep.
    let spool_files = sweep_spool(state).await.unwrap_or_else(|e| {
        tracing::warn!(error = %format!("{e:#}"), "removing stale spool files failed");
        0
    });
    let uploads = cleanup_abandoned_uploads(state, ttl).await?;
    let otps = otp::delete_expired(&state.db, chrono::Duration::from_std(OTP_RETENTION)?).await?;
    Ok(SweepReport { uploads, spool_files, otps })
}

fn log_report(report: SweepReport) {
    if report != SweepReport::default() {
        tracing::info!(
            uploads = report.uploads,
            spool_files = report.spool_files,
            otps = report.otps,
            "maintenance sweep"
        );
    }
}

/// Starts the periodic sweep (every `UPLOAD_CLEANUP_INTERVAL_SECONDS`, the first one at once; 0
/// disables it). Spool files left by a crash are removed at start even then.
pub fn spawn(state: AppState) -> Option<tokio::task::JoinHandle<()>> {
    let every = state.config.uploads.upload_cleanup_interval_seconds;
    if every == 0 {
        tokio::spawn(async move {
            match sweep_spool(&state).await {
                Ok(spool_files) => log_report(SweepReport { spool_files, ..SweepReport::default() }),
                Err(e) => tracing::warn!(error = %format!("{e:#}"), "removing stale spool files failed"),
            }
        });
        return None;
    }
    Some(tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(every));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match sweep(&state).await {
                Ok(report) => log_report(report),
                Err(e) => tracing::warn!(error = %format!("{e:#}"), "maintenance sweep failed"),
            }
        }
    }))
}
