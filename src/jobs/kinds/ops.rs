//! Operations jobs: `cleanup`, `optimize_db`, `health_check`, `backup`.

use std::time::Duration;

use serde_json::{Value, json};

use crate::{
    db::jobs as queue,
    jobs::{JobContext, maintenance},
    ops::{progress::Progress, rotation},
    storage::objects::EXPORTS_PREFIX,
};

/// Export files whose job row is gone are deleted once older than this (a running export's
/// files always have their row).
const EXPORT_ORPHAN_AGE: Duration = Duration::from_secs(3600);

/// The periodic cleanup: the maintenance sweep (abandoned chunked uploads, crash spool files,
/// long-expired OTP rows), finished jobs past their retention, and the export files of jobs that
/// are gone. Never a record or a record's object.
pub async fn cleanup(ctx: JobContext) -> anyhow::Result<Value> {
    let state = &ctx.state;
    ctx.progress(0, 3, "Sweeping abandoned uploads...");
    let sweep = maintenance::sweep(state).await?;
    ctx.progress(1, 3, "Purging expired job results...");
    let jobs_purged = queue::purge_expired(&state.db).await?;
    ctx.progress(2, 3, "Removing expired export files...");
    let export_files = remove_stale_exports(&ctx).await?;
    let (uploads, spool_files, otps, swept) = match sweep {
        Some(r) => (r.uploads, r.spool_files, r.otps, true),
        None => (0, 0, 0, false),
    };
    Ok(json!({
        "status": "success",
        "sweep_ran": swept,
        "abandoned_uploads_removed": uploads,
        "spool_files_removed": spool_files,
        "otp_rows_removed": otps,
        "jobs_purged": jobs_purged,
        "export_files_removed": export_files,
        "records_deleted": 0,
    }))
}

/// Deletes files under `exports/<job id>/` whose job no longer exists, once they are an hour old.
async fn remove_stale_exports(ctx: &JobContext) -> anyhow::Result<u64> {
    let state = &ctx.state;
    let listed = state.storage.list_prefix(EXPORTS_PREFIX).await?;
    let cutoff = chrono::Utc::now() - chrono::Duration::from_std(EXPORT_ORPHAN_AGE)?;
    let mut by_job: std::collections::BTreeMap<uuid::Uuid, Vec<String>> = Default::default();
    for object in listed.into_iter().filter(|o| o.last_modified < cutoff) {
        if let Some(id) = crate::storage::objects::export_job_of(&object.key) {
            by_job.entry(id).or_default().push(object.key);
        }
    }
    if by_job.is_empty() {
        return Ok(0);
    }
    let ids: Vec<_> = by_job.keys().copied().collect();
    let alive: std::collections::HashSet<_> = queue::existing(&state.db, &ids).await?.into_iter().collect();
    let mut removed = 0;
    for (id, keys) in by_job.into_iter().filter(|(id, _)| !alive.contains(id)) {
        for key in keys {
            // Only keys the service wrote under its own exports prefix.
            state.storage.delete(&key).await?;
            removed += 1;
        }
        tracing::debug!(job = %id, "removed the files of an expired export");
    }
    Ok(removed)
}

/// `ANALYZE`: fresh planner statistics. Never `VACUUM FULL` (it locks tables); autovacuum does
/// the rest.
pub async fn optimize_db(ctx: JobContext) -> anyhow::Result<Value> {
    let started = std::time::Instant::now();
    ctx.progress(0, 1, "Analyzing tables...");
    queue::analyze(&ctx.state.db).await?;
    Ok(json!({
        "status": "success",
        "results": { "analyze_completed": true, "vacuum_full": false },
        "elapsed_ms": started.elapsed().as_millis() as u64,
        "optimization_date": chrono::Utc::now(),
    }))
}

/// Checks the database, the object storage (a write probe), Redis when configured, and the free
/// space of the storage and spool directories.
pub async fn health_check(ctx: JobContext) -> anyhow::Result<Value> {
    let state = &ctx.state;
    let timeout = Duration::from_secs(5);
    let database = match tokio::time::timeout(timeout, crate::db::ping(&state.db)).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("timed out".to_owned()),
    };
    let storage = match tokio::time::timeout(timeout, state.storage.check()).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(format!("{e:#}")),
        Err(_) => Err("timed out".to_owned()),
    };
    let redis = if state.limiter.is_shared() {
        Some(match tokio::time::timeout(timeout, state.limiter.check()).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(format!("{e:#}")),
            Err(_) => Err("timed out".to_owned()),
        })
    } else {
        None
    };
    let mut issues = Vec::new();
    let mut component = |name: &str, result: &Result<(), String>| match result {
        Ok(()) => "healthy".to_owned(),
        Err(e) => {
            issues.push(format!("{name} connectivity issue: {e}"));
            "unhealthy".to_owned()
        }
    };
    let database = component("Database", &database);
    let storage = component("Storage", &storage);
    let redis = redis.as_ref().map(|r| component("Redis", r)).unwrap_or_else(|| "not configured".to_owned());
    let spool = crate::storage::spool::spool_dir(state.config.uploads.upload_tmp_dir.as_deref());
    let disk = crate::storage::free_space(&spool).ok();
    let unhealthy = [&database, &storage, &redis].iter().filter(|s| s.as_str() == "unhealthy").count();
    let overall = match unhealthy {
        0 => "healthy",
        1 => "degraded",
        _ => "unhealthy",
    };
    Ok(json!({
        "status": "success",
        "health_status": {
            "database": database,
            "storage": storage,
            "redis": redis,
            "spool_free_bytes": disk,
            "overall": overall,
        },
        "issues": issues,
        "check_time": chrono::Utc::now(),
    }))
}

/// The scheduled backup: a rotating backup into `BACKUP_DIR` or the bucket, then the oldest
/// beyond `BACKUP_KEEP` deleted (see `ops::rotation`). A retried attempt writes a new backup
/// under a new name, never over an earlier one.
pub async fn backup(ctx: JobContext) -> anyhow::Result<Value> {
    let config = &ctx.state.config;
    let destination = rotation::destination(config)?
        .ok_or_else(|| anyhow::anyhow!("no backup destination: set BACKUP_DIR or BACKUP_TO_BUCKET"))?;
    ctx.progress(0, 1, "Backing up...");
    let report = tokio::select! {
        report = rotation::rotate(config, &destination, true, Progress::hidden()) => report?,
        () = ctx.cancel.cancelled() => anyhow::bail!("cancelled: no backup was written"),
    };
    ctx.progress(1, 1, "Backed up");
    Ok(json!({
        "status": "success",
        "name": report.name,
        "location": report.location,
        "bytes": report.bytes,
        "objects": report.backup.manifest.objects.len(),
        "problems": report.backup.problems,
        "pruned": report.pruned,
    }))
}
