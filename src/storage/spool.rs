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
    io,
    path::{Path, PathBuf},
    time::{Duration, SystemTime},
};

use tokio::io::AsyncWriteExt;

use crate::{
    error::{AppError, Result},
    media::ContentDigest,
};

/// Name prefix of every spool file; nothing without it is ever removed by the sweep.
pub const SPOOL_PREFIX: &str = "corpus-upload-";
/// A spool file younger than this is never swept, even when unlocked.
pub const SPOOL_MIN_AGE: Duration = Duration::from_secs(2);
/// Largest write buffer of one spool file.
const SPOOL_WRITE_BUFFER: usize = 16 * 1024;

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
pub struct Spooler {
    file: tempfile::NamedTempFile,
    out: tokio::fs::File,
    size: u64,
    max: u64,
    digest: ContentDigest,
    prefix: Vec<u8>,
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
        let mut out = tokio::fs::File::from_std(file.reopen().map_err(|e| spool_error(e, "opening a spool file"))?);
        // The async file copies each write into a buffer of its own that keeps its largest size
        // (up to 2 MiB): bounded here, so a thousand uploads in flight stay small.
        out.set_max_buf_size(SPOOL_WRITE_BUFFER);
        Ok(Self { file, out, size: 0, max, digest: ContentDigest::new(), prefix: Vec::new() })
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
        self.out.write_all(bytes).await.map_err(|e| spool_error(e, "spooling an upload"))
    }

    /// Flushes the file and hands over what was gathered.
    pub async fn finish(mut self) -> Result<Spooled> {
        self.out.flush().await.map_err(|e| spool_error(e, "spooling an upload"))?;
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
