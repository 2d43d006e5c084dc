//! Media jobs: `media_facts` (one record's duration, when the upload could not compute it) and
//! `backfill_duration` (every audio/video record with no or an implausible duration, e.g. those
//! taken over from the original, which stored truncated or no durations).

use serde_json::{Value, json};
use tokio::io::AsyncReadExt;
use uuid::Uuid;

use crate::{
    db::records::{self, DurationCandidate},
    jobs::JobContext,
    media::Measured,
    state::AppState,
};

/// Records read per batch.
const BATCH: i64 = 100;

/// What timing one record gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timed {
    /// A duration was stored (or was already right).
    Known(i32),
    /// The file's header claims a duration its size cannot hold: stored as unknown, flagged.
    Implausible,
    /// No duration can be read from this file.
    Unknown,
}

/// Reads a record's object into a spool file, sniffs and times it as an upload would be.
pub async fn time_record(state: &AppState, candidate: &DurationCandidate) -> anyhow::Result<Measured> {
    let dir = crate::storage::spool::spool_dir(state.config.uploads.upload_tmp_dir.as_deref());
    let spool = crate::storage::spool::locked_temp_file(&dir)?;
    let path = spool.path().to_owned();
    let (_, size) = state.storage.copy_to_file(&candidate.object_key, &path, &|_| {}).await?;
    let mut prefix = Vec::with_capacity(8192);
    tokio::fs::File::open(&path).await?.take(8192).read_to_end(&mut prefix).await?;
    let Some(sniffed) = crate::media::sniff_file(&path, &prefix, size).await? else {
        return Ok(Measured::default());
    };
    Ok(state.media.measure(&path, sniffed, size).await)
}

/// Times one record and stores the result. Idempotent: timing again stores the same.
pub async fn backfill_one(state: &AppState, candidate: &DurationCandidate, dry_run: bool) -> anyhow::Result<Timed> {
    let measured = time_record(state, candidate).await?;
    if !dry_run {
        records::set_duration(&state.db, candidate.uid, measured.seconds, measured.implausible).await?;
    }
    Ok(match measured {
        Measured { seconds: Some(s), .. } => Timed::Known(s),
        Measured { implausible: true, .. } => Timed::Implausible,
        _ => Timed::Unknown,
    })
}

/// `media_facts {record_id}`: computes the duration of one record's file.
pub async fn media_facts(ctx: JobContext) -> anyhow::Result<Value> {
    let uid: Uuid = ctx
        .arg_str("record_id")
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| anyhow::anyhow!("media_facts needs a record_id (a record UUID)"))?;
    ctx.progress(10, 100, "Loading record...");
    let Some(candidate) = records::duration_candidate(&ctx.state.db, uid).await? else {
        return Ok(json!({ "status": "skipped", "record_id": uid, "reason": "Record not found or has no file" }));
    };
    ctx.progress(30, 100, "Extracting metadata...");
    let timed = backfill_one(&ctx.state, &candidate, false).await?;
    ctx.progress(100, 100, "Processing complete");
    Ok(json!({ "status": "success", "record_id": uid, "metadata": timed_json(timed) }))
}

fn timed_json(timed: Timed) -> Value {
    match timed {
        Timed::Known(s) => json!({ "duration_seconds": s, "duration_implausible": false }),
        Timed::Implausible => json!({ "duration_seconds": null, "duration_implausible": true }),
        Timed::Unknown => json!({ "duration_seconds": null, "duration_implausible": false }),
    }
}

/// What a backfill did.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct BackfillReport {
    /// Records examined.
    pub examined: u64,
    /// Durations found.
    pub timed: u64,
    /// Files whose header claims an impossible duration.
    pub implausible: u64,
    /// Files no duration could be read from.
    pub unknown: u64,
    /// Records whose object could not be read.
    pub failed: u64,
    /// Nothing was written.
    pub dry_run: bool,
}

/// Backfill options.
#[derive(Debug, Clone)]
pub struct BackfillOptions {
    /// `audio`, `video` or both.
    pub media_types: Vec<String>,
    /// Records at most (0 = all).
    pub limit: u64,
    /// Time them but write nothing.
    pub dry_run: bool,
}

/// Times every audio/video record with no or an implausible duration. `progress(done, total)`
/// is called after each record (total is known only at the end: it counts as it goes).
pub async fn backfill(
    state: &AppState,
    options: &BackfillOptions,
    cancel: &tokio_util::sync::CancellationToken,
    progress: &(dyn Fn(&BackfillReport) + Sync),
) -> anyhow::Result<BackfillReport> {
    let mut report = BackfillReport { dry_run: options.dry_run, ..Default::default() };
    let mut after = None;
    loop {
        let batch = records::needing_duration(&state.db, &options.media_types, after, BATCH).await?;
        let Some(last) = batch.last() else { break };
        after = Some(last.uid);
        for candidate in &batch {
            if cancel.is_cancelled() {
                anyhow::bail!("cancelled after {} records", report.examined);
            }
            if options.limit > 0 && report.examined >= options.limit {
                return Ok(report);
            }
            report.examined += 1;
            match backfill_one(state, candidate, options.dry_run).await {
                Ok(Timed::Known(_)) => report.timed += 1,
                Ok(Timed::Implausible) => report.implausible += 1,
                Ok(Timed::Unknown) => report.unknown += 1,
                Err(e) => {
                    report.failed += 1;
                    tracing::warn!(record = %candidate.uid, error = %format!("{e:#}"), "timing a record failed");
                }
            }
            progress(&report);
        }
    }
    Ok(report)
}

/// `backfill_duration {media_type?, limit?, dry_run?}`.
pub async fn backfill_duration(ctx: JobContext) -> anyhow::Result<Value> {
    let options = BackfillOptions {
        media_types: match ctx.arg_str("media_type") {
            Some("audio") => vec!["audio".into()],
            Some("video") => vec!["video".into()],
            _ => vec!["audio".into(), "video".into()],
        },
        limit: ctx.arg_i64("limit").unwrap_or(0).max(0) as u64,
        dry_run: ctx.args.get("dry_run").and_then(Value::as_bool).unwrap_or(false),
    };
    let report = backfill(&ctx.state, &options, &ctx.cancel, &|r| {
        ctx.progress(r.examined, r.examined.max(options.limit), "Timing records...")
    })
    .await?;
    Ok(json!({ "status": "success", "report": report }))
}
