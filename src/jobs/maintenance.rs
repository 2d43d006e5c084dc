//! The periodic maintenance sweep: abandoned resumable uploads, spool files left by a crash, and
//! expired OTP rows.
//!
//! With several replicas on one database, one sweep runs at a time (a session advisory lock held
//! for the sweep; the others skip their turn), and every delete re-checks its condition in the
//! statement that deletes, under the upload's own lock, so a chunk acknowledged by any replica
//! meanwhile is never lost.

use std::time::Duration;

use crate::{
    db::{maintenance, otp, uploads},
    state::AppState,
    storage::{
        objects::chunk_prefix,
        spool::{SPOOL_MIN_AGE, spool_dir, sweep_spool_dir},
    },
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
/// [`crate::storage::spool`] for why this is safe in a shared directory).
pub async fn sweep_spool(state: &AppState) -> anyhow::Result<u64> {
    let dir = spool_dir(state.config.uploads.upload_tmp_dir.as_deref());
    Ok(tokio::task::spawn_blocking(move || sweep_spool_dir(&dir, SPOOL_MIN_AGE)).await??)
}

/// Deletes resumable uploads untouched for longer than `older_than` (their chunk objects, the
/// object of a finalise that died, and the rows), and the bookkeeping of finished ones. Records
/// are never touched; an upload being finalised or written to is skipped. Returns how many
/// uploads were removed.
pub async fn cleanup_abandoned_uploads(state: &AppState, older_than: Duration) -> anyhow::Result<u64> {
    let mut removed = 0;
    for id in uploads::idle_since(&state.db, older_than).await? {
        let mut tx = state.db.begin().await?;
        if !uploads::try_lock_upload_xact(&mut *tx, id).await? {
            continue;
        }
        // Still abandoned now that nothing else can touch it?
        let Some(idle) = uploads::still_idle(&mut *tx, id, older_than).await? else { continue };
        // Objects first: a row without objects is harmless, objects without a row are orphans.
        state.storage.delete_prefix(&chunk_prefix(id)).await?;
        if let (None, Some(key)) = (idle.record_uid, idle.finalise_object_key) {
            state.storage.delete(&key).await?;
        }
        removed += uploads::delete_idle(&mut *tx, id, older_than).await?;
        tx.commit().await?;
    }
    Ok(removed)
}

/// Runs one sweep now, unless another process is running one (then `None`).
pub async fn sweep(state: &AppState) -> anyhow::Result<Option<SweepReport>> {
    let ttl = Duration::from_secs(state.config.uploads.upload_session_ttl_minutes.max(1) as u64 * 60);
    // A spool directory that cannot be read must not stop the rest of the sweep. Spool files are
    // this machine's own, so every replica sweeps its directory.
    let spool_files = sweep_spool(state).await.unwrap_or_else(|e| {
        tracing::warn!(error = %format!("{e:#}"), "removing stale spool files failed");
        0
    });
    let mut conn = state.db.acquire().await?;
    if !maintenance::try_lead_sweep(&mut *conn).await? {
        return Ok(None);
    }
    let swept = async {
        let uploads = cleanup_abandoned_uploads(state, ttl).await?;
        let otps = otp::delete_expired(&state.db, chrono::Duration::from_std(OTP_RETENTION)?).await?;
        anyhow::Ok(SweepReport { uploads, spool_files, otps })
    }
    .await;
    // Released on the connection that took it; if that fails, closing the connection does it.
    if maintenance::end_sweep(&mut *conn).await.is_err() {
        drop(conn.detach());
    }
    swept.map(Some)
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
                Ok(Some(report)) => log_report(report),
                Ok(None) => tracing::debug!("maintenance sweep skipped: another process is running one"),
                Err(e) => tracing::warn!(error = %format!("{e:#}"), "maintenance sweep failed"),
            }
        }
    }))
}
