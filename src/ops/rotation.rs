//! Rotating backups: `corpus db backup --rotate` and the scheduled backup write a new
//! `corpus-backup-<UTC time>` backup into `BACKUP_DIR` (or into the S3 bucket under `backups/`),
//! log it in `backup_run`, then delete the oldest ones beyond `BACKUP_KEEP`.
//!
//! Pruning removes only what a backup wrote: the names a manifest lists (the dump, the manifest,
//! the objects), then the directories left empty. A directory or object that does not carry a
//! backup's name, and any foreign file inside one, stays.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use chrono::{DateTime, NaiveDateTime, Utc};
use futures::TryStreamExt;
use object_store::path::Path as ObjectPath;
use sqlx::{Connection, PgConnection};

use super::{
    backup::{BackupReport, backup},
    manifest::{DUMP_FILE, MANIFEST_FILE, Manifest, OBJECTS_DIR},
    progress::Progress,
};
use crate::{
    config::{Config, StorageBackend},
    db,
    storage::{Storage, spool::spool_dir},
};

/// Every rotating backup's name starts with this, followed by its UTC time.
pub const NAME_PREFIX: &str = "corpus-backup-";
/// The key prefix of rotating backups in the bucket.
pub const BUCKET_PREFIX: &str = "backups";
const TIME_FORMAT: &str = "%Y%m%dT%H%M%SZ";

/// Where rotating backups go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// A local directory holding one directory per backup.
    Directory(PathBuf),
    /// The S3 bucket of the storage, under `backups/<name>/`.
    Bucket,
}

/// The rotation the settings ask for: `None` when neither `BACKUP_DIR` nor `BACKUP_TO_BUCKET`
/// is set. Refuses the bucket with local storage (it would sit on the disk it backs up).
pub fn destination(config: &Config) -> anyhow::Result<Option<Destination>> {
    let settings = &config.backups;
    match (&settings.backup_dir, settings.backup_to_bucket) {
        (Some(_), true) => bail!("set BACKUP_DIR or BACKUP_TO_BUCKET, not both"),
        (Some(dir), false) => Ok(Some(Destination::Directory(dir.clone()))),
        (None, true) if config.storage_backend() != StorageBackend::S3 => {
            bail!("BACKUP_TO_BUCKET needs S3 storage; with local storage set BACKUP_DIR to another disk")
        }
        (None, true) => Ok(Some(Destination::Bucket)),
        (None, false) => Ok(None),
    }
}

/// The name of a backup taken at `at`.
pub fn name_at(at: DateTime<Utc>) -> String {
    format!("{NAME_PREFIX}{}", at.format(TIME_FORMAT))
}

/// The time a rotating backup's name states, or `None` for any other name.
pub fn time_of(name: &str) -> Option<DateTime<Utc>> {
    let stamp = name.strip_prefix(NAME_PREFIX)?;
    NaiveDateTime::parse_from_str(stamp, TIME_FORMAT).ok().map(|t| t.and_utc())
}

/// What one rotation did.
#[derive(Debug)]
pub struct RotationReport {
    /// The new backup's name.
    pub name: String,
    /// Where it is (`<dir>/<name>` or `bucket:backups/<name>`).
    pub location: String,
    /// The backup itself.
    pub backup: BackupReport,
    /// Bytes written: the dump plus the objects copied.
    pub bytes: u64,
    /// Older backups deleted to keep `BACKUP_KEEP`.
    pub pruned: Vec<String>,
}

/// Takes one rotating backup to `destination`, logs it, then prunes; `scheduled` says whether
/// the scheduler started it. A failure is logged in `backup_run` too, and nothing is pruned.
pub async fn rotate(
    config: &Config,
    destination: &Destination,
    scheduled: bool,
    progress: Progress,
) -> anyhow::Result<RotationReport> {
    let name = name_at(Utc::now());
    let location = match destination {
        Destination::Directory(dir) => dir.join(&name).display().to_string(),
        Destination::Bucket => format!("bucket:{BUCKET_PREFIX}/{name}"),
    };
    let backup = logged(config, &location, scheduled, write(config, destination, &name, progress)).await?;
    let bytes = written_bytes(&backup);
    let pruned = prune(config, destination, config.backups.backup_keep as usize).await?;
    Ok(RotationReport { name, location, backup, bytes, pruned })
}

/// Bytes a backup wrote: the dump plus the objects it copied.
fn written_bytes(backup: &BackupReport) -> u64 {
    let m = &backup.manifest;
    m.database.dump_size + if m.storage.objects_included { m.object_bytes() } else { 0 }
}

/// Runs `backup` between two entries of the backup log: started, then succeeded (with its size)
/// or failed (with the reason).
pub async fn logged(
    config: &Config,
    location: &str,
    scheduled: bool,
    backup: impl Future<Output = anyhow::Result<BackupReport>>,
) -> anyhow::Result<BackupReport> {
    let mut log = PgConnection::connect_with(&config.pg_options()?).await.context("connecting to the database")?;
    // A database older than the backup log (a backup before an upgrade) is still backed up.
    let id = match db::backups::start(&mut log, location, scheduled).await {
        Ok(id) => Some(id),
        Err(e) => {
            tracing::warn!(error = %e, "this backup is not logged (is the database migrated?)");
            None
        }
    };
    let result = backup.await;
    if let Some(id) = id {
        let logged = match &result {
            Ok(report) => {
                let bytes = i64::try_from(written_bytes(report)).unwrap_or(i64::MAX);
                let objects = i32::try_from(report.manifest.objects.len()).unwrap_or(i32::MAX);
                db::backups::succeed(&mut log, id, location, bytes, objects).await
            }
            Err(e) => db::backups::fail(&mut log, id, &format!("{e:#}")).await,
        };
        if let Err(e) = logged {
            tracing::warn!(error = %e, "could not log the end of the backup");
        }
    }
    let _ = log.close().await;
    result
}

/// Writes the backup named `name`.
async fn write(
    config: &Config,
    destination: &Destination,
    name: &str,
    progress: Progress,
) -> anyhow::Result<BackupReport> {
    match destination {
        Destination::Directory(dir) => {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            backup(config, &dir.join(name), progress).await
        }
        Destination::Bucket => {
            // Staged next to the spooled uploads (the disk meant for transient files), then
            // streamed to the bucket file by file; the stage is removed either way.
            let stage = tempfile::Builder::new()
                .prefix(".corpus-backup-stage-")
                .tempdir_in(spool_dir(config.uploads.upload_tmp_dir.as_deref()))
                .context("creating the staging directory")?;
            let local = stage.path().join(name);
            let report = backup(config, &local, progress).await?;
            let storage = Storage::from_config(config)?;
            for file in files_under(&local)? {
                let relative = file.strip_prefix(&local).expect("listed under the backup").to_string_lossy();
                let key = format!("{BUCKET_PREFIX}/{name}/{relative}");
                storage.put_file(&key, &file, None).await?;
            }
            Ok(BackupReport { dir: PathBuf::from(format!("{BUCKET_PREFIX}/{name}")), ..report })
        }
    }
}

/// The regular files under `dir`, recursively (symlinks are not followed).
fn files_under(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        for entry in std::fs::read_dir(&current).with_context(|| format!("reading {}", current.display()))? {
            let entry = entry?;
            let kind = entry.file_type()?;
            if kind.is_dir() {
                pending.push(entry.path());
            } else if kind.is_file() {
                files.push(entry.path());
            }
        }
    }
    files.sort();
    Ok(files)
}

/// The rotating backups at `destination`, newest first.
pub async fn list(config: &Config, destination: &Destination) -> anyhow::Result<Vec<String>> {
    let mut names = match destination {
        Destination::Directory(dir) => match std::fs::read_dir(dir) {
            Ok(entries) => entries
                .filter_map(Result::ok)
                .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()) && e.path().join(MANIFEST_FILE).is_file())
                .filter_map(|e| e.file_name().to_str().map(str::to_owned))
                .filter(|n| time_of(n).is_some())
                .collect(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(e).with_context(|| format!("reading {}", dir.display())),
        },
        Destination::Bucket => {
            let storage = Storage::from_config(config)?;
            let listing = storage
                .store
                .list_with_delimiter(Some(&ObjectPath::from(BUCKET_PREFIX)))
                .await
                .context("listing backups in the bucket")?;
            let mut names = Vec::new();
            for prefix in listing.common_prefixes {
                let Some(name) = prefix.filename().map(str::to_owned) else { continue };
                let manifest = ObjectPath::from(format!("{BUCKET_PREFIX}/{name}/{MANIFEST_FILE}"));
                if time_of(&name).is_some() && storage.store.head(&manifest).await.is_ok() {
                    names.push(name);
                }
            }
            names
        }
    };
    names.sort_by(|a, b| b.cmp(a));
    Ok(names)
}

/// Deletes the rotating backups beyond the newest `keep`; returns their names.
pub async fn prune(config: &Config, destination: &Destination, keep: usize) -> anyhow::Result<Vec<String>> {
    let names = list(config, destination).await?;
    let old: Vec<String> = names.into_iter().skip(keep.max(1)).collect();
    for name in &old {
        match destination {
            Destination::Directory(dir) => remove_backup_dir(&dir.join(name))?,
            Destination::Bucket => remove_backup_objects(config, name).await?,
        }
        tracing::info!(backup = %name, "old backup deleted (BACKUP_KEEP)");
    }
    Ok(old)
}

/// The files a backup wrote, relative to its root, as its manifest lists them.
fn written_files(manifest: &Manifest) -> Vec<String> {
    let mut files = vec![DUMP_FILE.to_owned(), MANIFEST_FILE.to_owned()];
    if manifest.storage.objects_included {
        files.extend(manifest.objects.iter().map(|o| format!("{OBJECTS_DIR}/{}", o.key)));
    }
    files
}

/// Deletes what the backup at `root` wrote, then the directories that became empty.
fn remove_backup_dir(root: &Path) -> anyhow::Result<()> {
    let text = std::fs::read(root.join(MANIFEST_FILE)).with_context(|| format!("reading {}", root.display()))?;
    let manifest: Manifest = serde_json::from_slice(&text).context("reading the backup's manifest")?;
    for relative in written_files(&manifest) {
        // Keys never hold `..` (they are the service's own), but a manifest is a file on disk.
        if relative.split('/').any(|part| part == ".." || part.is_empty()) {
            continue;
        }
        match std::fs::remove_file(root.join(&relative)) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("deleting {relative} in {}", root.display())),
        }
    }
    remove_empty_dirs(root);
    Ok(())
}

/// Removes `dir` and the directories below it that hold nothing (deepest first); a directory
/// holding anything else stays.
fn remove_empty_dirs(dir: &Path) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.filter_map(Result::ok) {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                remove_empty_dirs(&entry.path());
            }
        }
    }
    // Fails (and keeps the directory) when something foreign is still inside.
    let _ = std::fs::remove_dir(dir);
}

/// Deletes the objects a backup wrote under `backups/<name>/` in the bucket.
async fn remove_backup_objects(config: &Config, name: &str) -> anyhow::Result<()> {
    let storage = Storage::from_config(config)?;
    let manifest_key = format!("{BUCKET_PREFIX}/{name}/{MANIFEST_FILE}");
    let text = storage
        .get(&manifest_key, None)
        .await
        .with_context(|| format!("reading {manifest_key}"))?
        .bytes()
        .await
        .with_context(|| format!("reading {manifest_key}"))?;
    let manifest: Manifest = serde_json::from_slice(&text).context("reading the backup's manifest")?;
    // The manifest last: an interrupted prune leaves a listed, prunable backup behind.
    let mut files = written_files(&manifest);
    files.retain(|f| f != MANIFEST_FILE);
    files.push(MANIFEST_FILE.to_owned());
    for relative in files {
        storage.delete(&format!("{BUCKET_PREFIX}/{name}/{relative}")).await?;
    }
    Ok(())
}

/// Downloads the bucket backup `name` into `into` (a new directory) for `corpus db restore`.
pub async fn download(config: &Config, name: &str, into: &Path) -> anyhow::Result<()> {
    if time_of(name).is_none() {
        bail!("{name} is not a rotating backup's name ({NAME_PREFIX}<UTC time>)");
    }
    let storage = Storage::from_config(config)?;
    let prefix = ObjectPath::from(format!("{BUCKET_PREFIX}/{name}"));
    let objects: Vec<_> = storage.store.list(Some(&prefix)).try_collect().await.context("listing the backup")?;
    if objects.is_empty() {
        bail!("no backup {name} in the bucket");
    }
    for object in objects {
        let key = object.location.as_ref();
        let relative = key.strip_prefix(&format!("{BUCKET_PREFIX}/{name}/")).context("a key outside the backup")?;
        // Creates the folders, streams and syncs the file (the restore checks every hash after).
        storage.copy_to_file(key, &into.join(relative), &|_| {}).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_carry_their_time_and_nothing_else_parses() {
        let at = DateTime::parse_from_rfc3339("2026-12-06T23:05:09Z").unwrap().with_timezone(&Utc);
        let name = name_at(at);
        assert_eq!(name, "corpus-backup-20261206T230509Z");
        assert_eq!(time_of(&name), Some(at));
        for other in
            ["corpus-backup-", "corpus-backup-2026", "backup-20261206T230509Z", "corpus-backup-20261206T230509Zx"]
        {
            assert_eq!(time_of(other), None, "{other}");
        }
    }
}
