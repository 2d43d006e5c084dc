//! The dataset export: the selected records' media as one tar archive (`media.tar`) and their
//! manifest in JSON Lines (`manifest.jsonl`) and CSV (`manifest.csv`), streamed to a directory
//! or to the service's storage (see [`Output`]).
//!
//! Records are read from one snapshot, oldest first, as a stream; each object is read as a
//! stream and written into the archive as it arrives, its SHA-256 computed on the way, so memory
//! stays flat whatever the size of the dataset. Each file is checked against its record:
//! - a missing object, or one whose size differs from the record's, is not archived;
//! - one whose bytes hash differently is already in the archive when that is known: it is left
//!   out of the manifest (which lists only files that passed their check).
//!
//! Both are reported in [`Summary::problems`]; the manifest's `sha256` and `size` are those of the
//! archived bytes. Records without a file (text typed into the app) get a manifest row with no
//! path. The files appear only once whole; on failure or cancellation nothing is left behind.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use futures::StreamExt;
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::{
    Cancelled,
    archive::{self, END},
    manifest::{ManifestRow, archive_path, csv_header},
    output::{Output, Sink, Target},
    selection::Selection,
};
use crate::{
    db::{self, exports::ExportRow},
    storage::Storage,
};

/// Name of the media archive.
pub const ARCHIVE_FILE: &str = "media.tar";
/// Name of the JSON Lines manifest.
pub const MANIFEST_JSONL: &str = "manifest.jsonl";
/// Name of the CSV manifest.
pub const MANIFEST_CSV: &str = "manifest.csv";

/// Shortest time between two progress reports (the last one is always made).
const PROGRESS_EVERY: Duration = Duration::from_millis(200);

/// What an export did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    /// Records the selection matched.
    pub selected: u64,
    /// Rows written to the manifest.
    pub records: u64,
    /// Files archived and listed.
    pub files: u64,
    /// Bytes of those files.
    pub bytes: u64,
    /// Records selected whose file could not be exported as recorded.
    pub problems: Vec<Problem>,
    /// Records deleted (with their object) while the export ran: left out, not a problem.
    pub deleted_meanwhile: Vec<Uuid>,
    /// Where the archive is.
    pub archive: String,
    /// Where the JSON Lines manifest is.
    pub manifest_jsonl: String,
    /// Where the CSV manifest is.
    pub manifest_csv: String,
}

/// A record whose file could not be exported as its record describes it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Problem {
    /// The record.
    pub record: Uuid,
    /// Its object's key.
    pub key: String,
    /// What is wrong.
    #[serde(flatten)]
    pub kind: ProblemKind,
}

/// What is wrong with a record's file.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "problem", rename_all = "snake_case")]
pub enum ProblemKind {
    /// No object at the key (not archived).
    Missing,
    /// The object's size differs from the record's (not archived).
    SizeMismatch {
        /// Recorded size.
        expected: u64,
        /// Stored size.
        actual: u64,
    },
    /// The object's bytes hash differently from the record's SHA-256 (in the archive, not
    /// listed in the manifest).
    HashMismatch {
        /// Recorded SHA-256.
        expected: String,
        /// SHA-256 of the stored bytes.
        actual: String,
    },
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (record, key) = (self.record, &self.key);
        match &self.kind {
            ProblemKind::Missing => write!(f, "MISSING {key} (record {record}): not archived"),
            ProblemKind::SizeMismatch { expected, actual } => {
                write!(f, "MISMATCH {key} (record {record}): {actual} bytes stored, {expected} recorded; not archived")
            }
            ProblemKind::HashMismatch { expected, actual } => write!(
                f,
                "MISMATCH {key} (record {record}): SHA-256 {actual} stored, {expected} recorded; in the archive but \
                 not in the manifest"
            ),
        }
    }
}

/// Runs a dataset export of `selection` into `output`, reading objects from `storage`.
///
/// `progress(current, total, status)` is called with the archived bytes and the recorded bytes
/// of the selection (at most every 200 ms, and once at the end); `status` says how many records
/// are done. Cancelling `cancel` stops the export within one read: what it wrote is removed and
/// the error is [`Cancelled`] (`err.is::<Cancelled>()`).
pub async fn run(
    pool: &PgPool,
    storage: &Storage,
    selection: &Selection,
    output: Output,
    mut progress: impl FnMut(u64, u64, &str) + Send,
    cancel: CancellationToken,
) -> anyhow::Result<Summary> {
    selection.validate()?;
    let mut target = Target::open(output.clone(), storage, &[ARCHIVE_FILE, MANIFEST_JSONL, MANIFEST_CSV]).await?;
    let mut sinks = Vec::with_capacity(3);
    for (file, large) in [(ARCHIVE_FILE, true), (MANIFEST_JSONL, false), (MANIFEST_CSV, false)] {
        match target.create(file, large).await {
            Ok(sink) => sinks.push(sink),
            Err(e) => {
                target.discard(sinks).await;
                return Err(e);
            }
        }
    }
    let (Some(csv), Some(jsonl), Some(archive)) = (sinks.pop(), sinks.pop(), sinks.pop()) else {
        unreachable!("three sinks were created")
    };
    let mut sinks = Sinks { archive, jsonl, csv };
    let mut summary = Summary {
        archive: output.describe(storage, ARCHIVE_FILE),
        manifest_jsonl: output.describe(storage, MANIFEST_JSONL),
        manifest_csv: output.describe(storage, MANIFEST_CSV),
        ..Summary::default()
    };
    let mut written = export(pool, storage, selection, &mut sinks, &mut summary, &mut progress, &cancel).await;
    // Cancelled after the last read (from the final progress report, say): still nothing is kept.
    if written.is_ok() && cancel.is_cancelled() {
        written = Err(Cancelled.into());
    }
    if let Err(e) = written {
        target.discard(vec![sinks.archive, sinks.jsonl, sinks.csv]).await;
        return Err(e);
    }
    // The JSON Lines manifest last: once it exists, the export is whole.
    let Sinks { archive, jsonl, csv } = sinks;
    let mut rest = vec![jsonl, csv, archive];
    while let Some(sink) = rest.pop() {
        if let Err(e) = target.finish(sink).await {
            target.discard(rest).await;
            return Err(e);
        }
    }
    Ok(summary)
}

/// The three files being written.
struct Sinks {
    archive: Sink,
    jsonl: Sink,
    csv: Sink,
}

/// Calls the progress callback, not more often than [`PROGRESS_EVERY`].
struct Reporter<'a, F: FnMut(u64, u64, &str)> {
    callback: &'a mut F,
    total_bytes: u64,
    total_records: u64,
    last: Option<Instant>,
}

impl<F: FnMut(u64, u64, &str)> Reporter<'_, F> {
    fn report(&mut self, bytes: u64, records: u64, force: bool) {
        if !force && self.last.is_some_and(|at| at.elapsed() < PROGRESS_EVERY) {
            return;
        }
        self.last = Some(Instant::now());
        let status = format!("{records} of {} records", self.total_records);
        (self.callback)(bytes.min(self.total_bytes), self.total_bytes, &status);
    }
}

/// What became of one record's file.
enum Archived {
    /// Archived; its SHA-256 and size.
    Listed { sha256: String, size: u64 },
    /// Not listed: the problem.
    Problem(ProblemKind),
}

async fn export<F: FnMut(u64, u64, &str) + Send>(
    pool: &PgPool,
    storage: &Storage,
    selection: &Selection,
    sinks: &mut Sinks,
    summary: &mut Summary,
    progress: &mut F,
    cancel: &CancellationToken,
) -> anyhow::Result<()> {
    sinks.csv.write(&csv_header()).await?;
    let mut conn = pool.acquire().await.context("connecting to the database")?;
    let mut tx = db::exports::begin_snapshot(&mut conn).await.context("starting the export's snapshot")?;
    let filter = selection.filter();
    let count = db::exports::count(&mut tx, &filter).await.context("counting the selected records")?;
    summary.selected = count.records.max(0) as u64;
    let mut reporter = Reporter {
        callback: progress,
        total_bytes: count.bytes.max(0) as u64,
        total_records: summary.selected,
        last: None,
    };
    reporter.report(0, 0, true);
    let mut statement = db::exports::statement(&filter);
    let mut rows = db::exports::stream(&mut tx, &mut statement);
    let mut bytes_done = 0u64;
    let mut records_done = 0u64;
    loop {
        let next = tokio::select! {
            biased;
            () = cancel.cancelled() => bail!(Cancelled),
            next = rows.next() => next,
        };
        let Some(row) = next else { break };
        let row = row.context("reading the selected records")?;
        records_done += 1;
        let listed = match row.object_key.clone() {
            None => None,
            Some(key) => {
                let path = archive_path(&row);
                let mut on_bytes = |n: u64| {
                    bytes_done += n;
                    reporter.report(bytes_done, records_done - 1, false);
                };
                match archive_one(storage, &key, &path, &row, &mut sinks.archive, &mut on_bytes, cancel).await? {
                    Archived::Listed { sha256, size } => Some((path, sha256, size)),
                    Archived::Problem(ProblemKind::Missing) if deleted(pool, row.uid).await? => {
                        summary.deleted_meanwhile.push(row.uid);
                        continue;
                    }
                    Archived::Problem(kind) => {
                        tracing::warn!(record = %row.uid, key, problem = ?kind, "a file was left out of a dataset export");
                        summary.problems.push(Problem { record: row.uid, key, kind });
                        continue;
                    }
                }
            }
        };
        let mut manifest_row = ManifestRow::new(&row, listed.as_ref().map(|(path, _, _)| path.clone()));
        if let Some((_, sha256, size)) = listed {
            manifest_row.sha256 = Some(sha256);
            manifest_row.size = Some(size as i64);
            summary.files += 1;
            summary.bytes += size;
        }
        sinks.jsonl.write(&manifest_row.json_line()).await?;
        sinks.csv.write(&manifest_row.csv_line()).await?;
        summary.records += 1;
        reporter.report(bytes_done, records_done, false);
    }
    drop(rows);
    tx.commit().await.context("ending the export's snapshot")?;
    sinks.archive.write(&END).await?;
    reporter.report(bytes_done, records_done, true);
    Ok(())
}

/// Whether the record is gone now (its object went with it while the export ran).
async fn deleted(pool: &PgPool, uid: Uuid) -> anyhow::Result<bool> {
    Ok(db::records::get(pool, uid).await.context("re-reading a record")?.is_none())
}

/// Streams the object at `key` into the archive as the entry `path`, checking it against `row`.
async fn archive_one(
    storage: &Storage,
    key: &str,
    path: &str,
    row: &ExportRow,
    archive: &mut Sink,
    on_bytes: &mut impl FnMut(u64),
    cancel: &CancellationToken,
) -> anyhow::Result<Archived> {
    let (size, mut stream) = match storage.read_stream_sized(key).await {
        Ok(opened) => opened,
        Err(object_store::Error::NotFound { .. }) => return Ok(Archived::Problem(ProblemKind::Missing)),
        Err(e) => return Err(e).with_context(|| format!("reading {key}")),
    };
    if let Some(expected) = row.file_size
        && u64::try_from(expected).ok() != Some(size)
    {
        return Ok(Archived::Problem(ProblemKind::SizeMismatch { expected: expected.max(0) as u64, actual: size }));
    }
    let mtime = u64::try_from(row.created_at.timestamp()).unwrap_or(0);
    let header = archive::file_header(path, size, mtime).with_context(|| format!("archive entry {path}"))?;
    archive.write(&header).await?;
    let mut hasher = Sha256::new();
    let mut written = 0u64;
    loop {
        let chunk = tokio::select! {
            biased;
            () = cancel.cancelled() => bail!(Cancelled),
            chunk = stream.next() => chunk,
        };
        let Some(chunk) = chunk else { break };
        let chunk = chunk.with_context(|| format!("reading {key}"))?;
        // The header announced `size` bytes: an object that changes while it is read would
        // corrupt the archive, so the export stops instead.
        if written + chunk.len() as u64 > size {
            bail!("{key} grew while it was read (more than {size} bytes)");
        }
        hasher.update(&chunk);
        archive.write(&chunk).await?;
        written += chunk.len() as u64;
        on_bytes(chunk.len() as u64);
    }
    if written != size {
        bail!("{key} ended after {written} of its {size} bytes");
    }
    archive.write(archive::padding(size)).await?;
    let actual = hex::encode(hasher.finalize());
    match &row.content_sha256 {
        Some(expected) if !expected.trim().eq_ignore_ascii_case(&actual) => {
            Ok(Archived::Problem(ProblemKind::HashMismatch { expected: expected.trim().to_owned(), actual }))
        }
        _ => Ok(Archived::Listed { sha256: actual, size }),
    }
}
