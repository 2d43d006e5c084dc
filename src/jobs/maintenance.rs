//! The periodic maintenance sweep: abandoned resumable uploads and expired OTP rows.

use std::time::Duration;

use crate::{auth::otp, http::records::upload::cleanup_abandoned_uploads, state::AppState};

/// Expired OTP rows are kept this long (for support questions), then deleted.
const OTP_RETENTION: Duration = Duration::from_secs(24 * 60 * 60);

/// What one sweep removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SweepReport {
    /// Abandoned upload sessions removed (with their chunks).
    pub uploads: u64,
    /// OTP rows removed.
    pub otps: u64,
}

/// Runs one sweep now.
pub async fn sweep(state: &AppState) -> anyhow::Result<SweepReport> {
    let ttl = Duration::from_secs(state.config.uploads.upload_session_ttl_minutes.max(1) as u64 * 60);
    let uploads = cleanup_abandoned_uploads(state, ttl).await?;
    let otps = otp::delete_expired(&state.db, chrono::Duration::from_std(OTP_RETENTION)?).await?;
    Ok(SweepReport { uploads, otps })
}

/// Starts the periodic sweep (every `UPLOAD_CLEANUP_INTERVAL_SECONDS`; 0 disables it).
pub fn spawn(state: AppState) -> Option<tokio::task::JoinHandle<()>> {
    let every = state.config.uploads.upload_cleanup_interval_seconds;
    if every == 0 {
        return None;
    }
    Some(tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(every));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match sweep(&state).await {
                Ok(report) if report == SweepReport::default() => {}
                Ok(report) => tracing::info!(uploads = report.uploads, otps = report.otps, "maintenance sweep"),
                Err(e) => tracing::warn!(error = %format!("{e:#}"), "maintenance sweep failed"),
            }
        }
    }))
}
