//! Spool files: where an upload's bytes wait on local disk between the network and storage.
//!
//! Each spool file is named `corpus-upload-*` and holds an exclusive `flock` for as long as it is
//! open. The lock dies with its process, so a file whose lock can be taken belongs to nobody: it
//! is a leftover of a crash (`kill -9`, OOM) and [`sweep_spool_dir`] removes it, at start and in
//! every maintenance sweep. `UPLOAD_TMP_DIR` may be the system temp dir, shared with other
//! programs and with other replicas of this service on the same machine: the sweep touches only
//! regular files with our prefix, never one that is locked (in use by a live process, whichever
//! replica), and never one younger than [`SPOOL_MIN_AGE`] (which covers the instant between
//! creating a file and locking it).

use std::{
    fs::File,
    io::{self, Write},
    path::{Path, PathBuf},
    sync::{
        Arc, Mutex, MutexGuard,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, SystemTime},
};

use tokio::task::JoinHandle;

use crate::{
    error::{AppError, Result},
    media::ContentDigest,
};

/// Name prefix of every spool file; nothing without it is ever removed by the sweep.
pub const SPOOL_PREFIX: &str = "corpus-upload-";
/// A spool file younger than this is never swept, even when unlocked.
pub const SPOOL_MIN_AGE: Duration = Duration::from_secs(2);
/// Most bytes one upload gathers while its disk thread is busy: a fast upload writes in batches up
/// to this size, a slow one writes each piece as it arrives.
const MAX_WRITE_BATCH: usize = 256 * 1024;
/// Largest write buffer an upload keeps between writes (bigger batches' buffers are freed).
const REUSED_BUFFER: usize = 16 * 1024;
/// Most bytes all uploads together may hold gathered: when the disk threads fall behind (a
/// thousand uploads at once), an upload waits for its own writes instead of gathering more.
const GATHER_BUDGET: usize = 4 * 1024 * 1024;
/// Bytes gathered (and not yet written) by every spooler of this process.
static GATHERED: AtomicUsize = AtomicUsize::new(0);

/// Takes `n` bytes of the gathering budget, if that many are left.
fn reserve_gathering(n: usize) -> bool {
    GATHERED
        .fetch_update(Ordering::AcqRel, Ordering::Acquire, |held| held.checked_add(n).filter(|&t| t <= GATHER_BUDGET))
        .is_ok()
}

/// Bytes of a file kept in memory for sniffing its type.
const SNIFF_LEN: usize = 8192;

/// A file spooled to a temporary file, with the facts gathered on the way.
pub struct Spooled {
    file: tempfile::NamedTempFile,
    /// Bytes in the file.
    pub size: u64,
    /// SHA-256 of the bytes, hex.
    pub sha256: String,
    /// The first bytes, for sniffing the type.
    pub prefix: Vec<u8>,
}

impl Spooled {
    /// Where the bytes are (valid while `self` lives; the file is removed on drop).
    pub fn path(&self) -> &Path {
        self.file.path()
    }
}

/// Writes arriving bytes to a temporary file, hashing them and enforcing a size limit.
///
/// Writes run on the blocking pool. Bytes that arrive while the disk thread is busy are queued and
/// the thread writes them too before it ends (in batches up to [`MAX_WRITE_BATCH`], while the
/// process's [`GATHER_BUDGET`] lasts), so a fast upload makes few large writes; a slow one (a
/// phone on a poor network) makes one small write per piece and reuses one small buffer. Nothing
/// waits in memory for a next piece that may never come.
pub struct Spooler {
    file: tempfile::NamedTempFile,
    /// The writing handle, shared with the disk thread.
    out: Arc<File>,
    /// Bytes waiting for the disk thread, and its state.
    queue: Arc<Mutex<Queue>>,
    /// The disk thread of this upload, while one runs (it ends when the queue is empty).
    writer: Option<JoinHandle<()>>,
    size: u64,
    max: u64,
    digest: ContentDigest,
    prefix: Vec<u8>,
}

/// What the upload and its disk thread share.
#[derive(Default)]
struct Queue {
    /// Bytes not yet written.
    bytes: Vec<u8>,
    /// Bytes of the gathering budget `bytes` holds.
    reserved: usize,
    /// True while a disk thread runs; it takes everything queued before it ends.
    running: bool,
    /// The first write error; nothing is written after it.
    failed: Option<io::Error>,
}

impl Drop for Queue {
    fn drop(&mut self) {
        // An upload that ends early (refused, client gone) gives its share of the budget back.
        GATHERED.fetch_sub(self.reserved, Ordering::AcqRel);
    }
}

/// The queue, whatever a panicking holder left (its fields stay consistent: each is set whole).
fn lock(queue: &Mutex<Queue>) -> MutexGuard<'_, Queue> {
    queue.lock().unwrap_or_else(|e| e.into_inner())
}

/// The disk thread: writes what is queued until the queue is empty.
fn drain(out: &File, queue: &Mutex<Queue>) {
    let mut out = out;
    loop {
        let (mut batch, reserved) = {
            let mut q = lock(queue);
            if q.bytes.is_empty() || q.failed.is_some() {
                q.running = false;
                return;
            }
            (std::mem::take(&mut q.bytes), std::mem::take(&mut q.reserved))
        };
        let result = out.write_all(&batch);
        GATHERED.fetch_sub(reserved, Ordering::AcqRel);
        let mut q = lock(queue);
        match result {
            // A slow upload's next piece goes into the same small buffer.
            Ok(()) if q.bytes.is_empty() && batch.capacity() <= REUSED_BUFFER => {
                batch.clear();
                q.bytes = batch;
            }
            Ok(()) => {}
            Err(e) => q.failed = Some(e),
        }
    }
}

/// 413 for a file over `max` bytes.
pub fn too_large(max: u64) -> AppError {
    AppError::PayloadTooLarge(format!("File too large: the limit is {max} bytes"))
}

/// The one place a spool I/O error becomes an HTTP error: a full disk (or quota) is the
/// server's temporary trouble, 503; anything else is an internal error.
pub fn spool_error(e: io::Error, doing: &'static str) -> AppError {
    if crate::error::is_storage_full(&e) {
        tracing::error!(error = %e, "upload spool is out of space while {doing}");
        return AppError::ServiceUnavailable(
            "The server is out of temporary space for uploads; please retry later".into(),
        );
    }
    AppError::Internal(anyhow::Error::new(e).context(doing))
}

impl Spooler {
    /// A new spool file in `dir` (the system temp dir when `None`), locked for its lifetime.
    pub fn new(max: u64, dir: Option<&Path>) -> Result<Self> {
        // The lock marks the file as in use for every process (see the module doc). It is held
        // by `file`'s descriptor, which lives exactly as long as the file itself.
        let file = locked_temp_file(&spool_dir(dir)).map_err(|e| spool_error(e, "creating a spool file"))?;
        let out = Arc::new(file.reopen().map_err(|e| spool_error(e, "opening a spool file"))?);
        Ok(Self {
            file,
            out,
            queue: Arc::default(),
            writer: None,
            size: 0,
            max,
            digest: ContentDigest::new(),
            prefix: Vec::new(),
        })
    }

    /// Appends `bytes`; 413 once the total passes the limit.
    pub async fn write(&mut self, bytes: &[u8]) -> Result<()> {
        self.size += bytes.len() as u64;
        if self.size > self.max {
            return Err(too_large(self.max));
        }
        self.digest.update(bytes);
        if self.prefix.len() < SNIFF_LEN {
            let take = (SNIFF_LEN - self.prefix.len()).min(bytes.len());
            self.prefix.extend_from_slice(&bytes[..take]);
        }
        {
            let mut q = lock(&self.queue);
            if let Some(e) = q.failed.take() {
                return Err(spool_error(e, "spooling an upload"));
            }
            // Behind a busy disk thread, within the limits: it takes these before it ends.
            if q.running && q.bytes.len() + bytes.len() <= MAX_WRITE_BATCH && reserve_gathering(bytes.len()) {
                q.reserved += bytes.len();
                q.bytes.extend_from_slice(bytes);
                return Ok(());
            }
        }
        // Too much waiting already: let the disk thread catch up (no wait when none runs), then
        // start one with these bytes (the budget counts only what waits behind a busy thread).
        self.wait_for_writer().await?;
        let mut q = lock(&self.queue);
        q.bytes.extend_from_slice(bytes);
        q.running = true;
        drop(q);
        let (out, queue) = (self.out.clone(), self.queue.clone());
        self.writer = Some(tokio::task::spawn_blocking(move || drain(&out, &queue)));
        Ok(())
    }

    /// Waits until the disk thread has written everything queued; the first write error, if any.
    async fn wait_for_writer(&mut self) -> Result<()> {
        if let Some(writer) = self.writer.take() {
            writer.await.map_err(|e| AppError::Internal(anyhow::Error::new(e).context("spooling an upload")))?;
        }
        match lock(&self.queue).failed.take() {
            Some(e) => Err(spool_error(e, "spooling an upload")),
            None => Ok(()),
        }
    }

    /// Waits for the last writes and hands over what was gathered.
    pub async fn finish(mut self) -> Result<Spooled> {
        self.wait_for_writer().await?;
        Ok(Spooled { file: self.file, size: self.size, sha256: self.digest.finish(), prefix: self.prefix })
    }
}

/// A new, locked spool file in `dir` for work other than an upload (a job's export or a stored
/// file read back for timing): the same prefix and lock as an upload's, so the sweep removes it
/// once a crash (`kill -9`) leaves it behind, and never while its process lives.
pub fn locked_temp_file(dir: &Path) -> io::Result<tempfile::NamedTempFile> {
    let file = tempfile::Builder::new().prefix(SPOOL_PREFIX).tempfile_in(dir)?;
    file.as_file().try_lock().map_err(io::Error::from)?;
    Ok(file)
}

/// The directory spool files go to.
pub fn spool_dir(configured: Option<&Path>) -> PathBuf {
    configured.map(Path::to_path_buf).unwrap_or_else(std::env::temp_dir)
}

/// Removes the spool files in `dir` that no live process holds and that are older than
/// `min_age`; returns how many were removed. Other files are never touched (see the module doc).
pub fn sweep_spool_dir(dir: &Path, min_age: Duration) -> io::Result<u64> {
    let mut removed = 0;
    let now = SystemTime::now();
    for entry in std::fs::read_dir(dir)? {
        let Ok(entry) = entry else { continue };
        if !entry.file_name().to_str().is_some_and(|n| n.starts_with(SPOOL_PREFIX)) {
            continue;
        }
        // `DirEntry::metadata` does not follow symlinks: a link with our prefix is left alone.
        let Ok(meta) = entry.metadata() else { continue };
        let old_enough =
            meta.modified().ok().and_then(|m| now.duration_since(m).ok()).is_some_and(|age| age >= min_age);
        if !meta.is_file() || !old_enough {
            continue;
        }
        let path = entry.path();
        let Ok(file) = File::open(&path) else { continue };
        // Held by a live upload (of this or another process): leave it.
        if file.try_lock().is_err() {
            continue;
        }
        match std::fs::remove_file(&path) {
            Ok(()) => removed += 1,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => tracing::warn!(error = %e, file = %path.display(), "could not remove a stale spool file"),
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn age(path: &Path, by: Duration) {
        File::options().write(true).open(path).unwrap().set_modified(SystemTime::now() - by).unwrap();
    }

    #[test]
    fn a_jobs_temp_file_is_swept_only_once_its_process_let_go() {
        let dir = tempfile::tempdir().unwrap();
        let held = locked_temp_file(dir.path()).unwrap();
        age(held.path(), Duration::from_secs(3600));
        assert_eq!(sweep_spool_dir(dir.path(), Duration::ZERO).unwrap(), 0, "held by a live job");
        assert!(held.path().exists());
        // A crash: the file stays, its lock goes with the descriptor.
        let (file, path) = held.keep().unwrap();
        drop(file);
        assert_eq!(sweep_spool_dir(dir.path(), Duration::ZERO).unwrap(), 1);
        assert!(!path.exists());
    }

    #[test]
    fn a_full_spool_disk_is_a_503_and_other_errors_a_500() {
        let full = spool_error(io::Error::from(io::ErrorKind::StorageFull), "spooling");
        assert_eq!(full.status(), 503);
        assert_eq!(spool_error(io::Error::from_raw_os_error(28), "spooling").status(), 503, "ENOSPC");
        assert_eq!(spool_error(io::Error::from(io::ErrorKind::PermissionDenied), "spooling").status(), 500);
    }

    #[tokio::test]
    async fn the_sweep_removes_only_unlocked_old_files_with_our_prefix() {
        let dir = tempfile::tempdir().unwrap();
        let hour = Duration::from_secs(3600);
        // A live spool file (locked), a crashed one (unlocked), a young unlocked one, a foreign one.
        let mut live = Spooler::new(1 << 20, Some(dir.path())).unwrap();
        live.write(b"in use").await.unwrap();
        let live_path = live.file.path().to_owned();
        let crashed = dir.path().join(format!("{SPOOL_PREFIX}crashed"));
        let young = dir.path().join(format!("{SPOOL_PREFIX}young"));
        let foreign = dir.path().join("someone-elses-file");
        for path in [&crashed, &young, &foreign] {
            std::fs::write(path, b"x").unwrap();
        }
        for path in [&live_path, &crashed, &foreign] {
            age(path, hour);
        }
        #[cfg(unix)]
        std::os::unix::fs::symlink(&foreign, dir.path().join(format!("{SPOOL_PREFIX}link"))).unwrap();

        assert_eq!(sweep_spool_dir(dir.path(), SPOOL_MIN_AGE).unwrap(), 1);
        assert!(!crashed.exists());
        assert!(live_path.exists() && young.exists() && foreign.exists());
        let spooled = live.finish().await.unwrap();
        assert_eq!(spooled.size, 6);
        drop(spooled);
        assert!(!live_path.exists(), "a spool file goes away with its upload");
    }
}
