//! `corpus db backup`: a self-describing backup directory.
//!
//! ```text
//! DIR/database.dump   pg_dump --format=custom of the database
//! DIR/objects/<key>   every object the database references (local storage only)
//! DIR/manifest.json   what the backup holds: versions, migrations, every object's key, size, SHA-256
//! ```
//!
//! The dump and the list of objects come from one database snapshot (`pg_dump --snapshot`), so
//! the objects backed up are exactly those the dumped rows reference: every record's file and the
//! chunks of unfinished uploads (orphans are left out). The backup is written to a hidden
//! temporary directory beside `DIR` and renamed to `DIR` at the very end, after the manifest:
//! a directory named `DIR` is always a whole backup.

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use chrono::Utc;
use sqlx::{Connection, PgConnection};
use uuid::Uuid;

use super::{
    manifest::{
        DUMP_FILE, DatabaseInfo, FORMAT, FORMAT_VERSION, MANIFEST_FILE, Manifest, MigrationInfo, OBJECTS_DIR,
        ObjectEntry, StorageInfo,
    },
    pgtools::{self, Target},
    progress::Progress,
};
use crate::{
    config::{Config, StorageBackend},
    db::objects as dbo,
    storage::{Storage, audit::hash_reader, objects::UPLOADS_PREFIX},
};

/// What a backup did.
#[derive(Debug)]
pub struct BackupReport {
    /// The backup directory.
    pub dir: PathBuf,
    /// Its manifest.
    pub manifest: Manifest,
    /// Time spent dumping the database.
    pub dump_time: Duration,
    /// Time spent copying (or, for S3, checking) the objects.
    pub objects_time: Duration,
    /// Objects a record still references that were missing, or whose bytes do not match what
    /// the record says: the backup holds what storage holds; `corpus storage verify` tells more.
    pub problems: Vec<String>,
    /// Objects not backed up because their record was deleted while the backup ran (the dump,
    /// taken before, still has the record).
    pub deleted_meanwhile: Vec<String>,
}

/// An object the snapshot references.
#[derive(Debug, Default)]
struct Wanted {
    recorded_size: Option<u64>,
    recorded_sha256: Option<String>,
    record: Option<Uuid>,
}

/// Removes the temporary directory unless the backup completed.
#[derive(Debug)]
struct TempDir {
    path: PathBuf,
    keep: bool,
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// Refuses an `out` that is a file or a non-empty directory; returns the temporary directory to
/// write into (created beside `out`, so the final rename stays on one filesystem).
fn prepare(out: &Path) -> anyhow::Result<TempDir> {
    match std::fs::metadata(out) {
        Ok(meta) if !meta.is_dir() => bail!("{} exists and is not a directory", out.display()),
        Ok(_) => {
            let mut entries = std::fs::read_dir(out).with_context(|| format!("reading {}", out.display()))?;
            if entries.next().is_some() {
                bail!("{} is not empty: a backup goes into a new or empty directory", out.display());
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("inspecting {}", out.display())),
    }
    let name = out.file_name().with_context(|| format!("{} has no directory name", out.display()))?;
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent).with_context(|| format!("creating {}", parent.display()))?;
    let path =
        parent.join(format!(".{}.partial-{}", name.to_string_lossy(), &Uuid::new_v4().simple().to_string()[..8]));
    std::fs::create_dir(&path).with_context(|| format!("creating {}", path.display()))?;
    Ok(TempDir { path, keep: false })
}

fn sync_dir(path: &Path) -> anyhow::Result<()> {
    std::fs::File::open(path).and_then(|d| d.sync_all()).with_context(|| format!("syncing {}", path.display()))
}

/// Takes a backup of the configured database and storage into `out` (created; must be new or
/// empty).
pub async fn backup(config: &Config, out: &Path, progress: Progress) -> anyhow::Result<BackupReport> {
    let mut tmp = prepare(out)?;
    let storage = Storage::from_config(config)?;
    let include_objects = storage.backend == StorageBackend::Local;

    let mut conn = PgConnection::connect_with(&config.pg_options()?).await.context("connecting to the database")?;
    let facts = dbo::database_facts(&mut conn).await?;
    if facts.migrations.is_empty() {
        bail!("database {} is not initialised (no migrations applied): nothing to back up", facts.name);
    }
    let tools = pgtools::find(pgtools::server_major(facts.server_version_num)).await?;
    let created_at = Utc::now();

    // One snapshot for the dump and for the list of objects its rows reference.
    let snapshot = dbo::begin_exported_snapshot(&mut conn).await?;
    let records = dbo::record_objects(&mut conn).await?;
    let uploads = dbo::upload_references(&mut conn).await?;
    let chunks = dbo::chunk_hashes(&mut conn).await?;

    let started = Instant::now();
    let dump_path = tmp.path.join(DUMP_FILE);
    let mut cmd = tokio::process::Command::new(&tools.pg_dump);
    cmd.arg("--format=custom").arg(format!("--file={}", dump_path.display())).arg(format!("--snapshot={snapshot}"));
    Target::from_config(config, Some(&facts.name))?.apply(&mut cmd);
    let spinner = progress.spinner("dumping the database");
    let dump = pgtools::run(cmd, "pg_dump");
    tokio::pin!(dump);
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    let dumped = loop {
        tokio::select! {
            result = &mut dump => break result,
            _ = tick.tick() => {
                let size = std::fs::metadata(&dump_path).map(|m| m.len()).unwrap_or(0);
                spinner.set_message(format!("dumping the database: {}", indicatif::BinaryBytes(size)));
            }
        }
    };
    spinner.finish_and_clear();
    let _ = dbo::end_snapshot(&mut conn).await;
    dumped?;
    let dump_time = started.elapsed();
    let (dump_sha256, dump_size) = hash_reader(
        tokio::fs::File::open(&dump_path).await.with_context(|| format!("reading {}", dump_path.display()))?,
    )
    .await?;

    // What the snapshot references.
    let mut wanted: BTreeMap<String, Wanted> = BTreeMap::new();
    for r in records {
        wanted.insert(
            r.object_key,
            Wanted {
                recorded_size: r.file_size.and_then(|s| u64::try_from(s).ok()),
                recorded_sha256: r.content_sha256.map(|s| s.trim().to_ascii_lowercase()),
                record: Some(r.uid),
            },
        );
    }
    let listing = storage.list_owned().await?;
    let sessions: HashSet<Uuid> = uploads.sessions.iter().copied().collect();
    let chunk_sha: HashMap<String, (u64, String)> = chunks
        .into_iter()
        .map(|(upload, index, size, sha)| {
            (format!("{}.{sha}", crate::storage::objects::chunk_key(upload, index)), (size as u64, sha))
        })
        .collect();
    for object in &listing.objects {
        let live_chunk = object
            .key
            .strip_prefix(&format!("{UPLOADS_PREFIX}/"))
            .and_then(|rest| rest.split('/').next())
            .and_then(|id| Uuid::parse_str(id).ok())
            .is_some_and(|id| sessions.contains(&id));
        if live_chunk || uploads.finalise_keys.contains(&object.key) {
            let recorded = chunk_sha.get(&object.key);
            wanted.entry(object.key.clone()).or_insert_with(|| Wanted {
                recorded_size: recorded.map(|r| r.0),
                recorded_sha256: recorded.map(|r| r.1.clone()),
                record: None,
            });
        }
    }
    let listed: HashMap<&str, u64> = listing.objects.iter().map(|o| (o.key.as_str(), o.size)).collect();

    let started = Instant::now();
    let total: u64 = wanted.keys().filter_map(|k| listed.get(k.as_str())).sum();
    let bar = progress.bytes(if include_objects { "objects" } else { "checking" }, total);
    let inc = |n: u64| bar.inc(n);
    let mut objects = Vec::with_capacity(wanted.len());
    let mut problems = Vec::new();
    let mut absent: Vec<(Uuid, String)> = Vec::new();
    for (key, want) in &wanted {
        let Some(&listed_size) = listed.get(key.as_str()) else {
            // A chunk or finalise object is only wanted when listed; a record's is missing.
            if let Some(uid) = want.record {
                absent.push((uid, key.clone()));
            }
            continue;
        };
        let result = if include_objects {
            storage.copy_to_file(key, &tmp.path.join(OBJECTS_DIR).join(key), &inc).await
        } else {
            match &want.recorded_sha256 {
                // S3: the objects stay in the bucket; their hashes come from the database, and
                // only objects without a recorded hash are read.
                Some(sha) => {
                    inc(listed_size);
                    Ok((sha.clone(), listed_size))
                }
                None => storage.hash_object(key, &inc).await.map_err(anyhow::Error::from),
            }
        };
        let (sha256, size) = match result {
            Ok(found) => found,
            Err(e) if is_not_found(&e) => {
                if let Some(uid) = want.record {
                    absent.push((uid, key.clone()));
                }
                continue;
            }
            Err(e) => return Err(e),
        };
        if let Some(expected) = want.recorded_size.filter(|s| *s != size) {
            problems.push(format!("{key}: {size} bytes stored, {expected} recorded"));
        } else if let Some(expected) = want.recorded_sha256.as_ref().filter(|s| **s != sha256) {
            problems.push(format!("{key}: SHA-256 {sha256} stored, {expected} recorded"));
        }
        objects.push(ObjectEntry { key: key.clone(), size, sha256 });
    }
    bar.finish_and_clear();
    let objects_time = started.elapsed();

    // A record deleted since the snapshot takes its object with it; only the others are missing.
    let mut deleted_meanwhile = Vec::new();
    if !absent.is_empty() {
        let still: HashSet<Uuid> = dbo::records_still_referencing(&mut conn, &absent).await?.into_iter().collect();
        for (uid, key) in absent {
            if still.contains(&uid) {
                problems.push(format!("{key}: missing from storage (record {uid})"));
            } else {
                deleted_meanwhile.push(key);
            }
        }
    }
    let _ = conn.close().await;

    let manifest = Manifest {
        format: FORMAT.into(),
        format_version: FORMAT_VERSION,
        created_at,
        service_version: env!("CARGO_PKG_VERSION").into(),
        database: DatabaseInfo {
            name: facts.name,
            server_version: facts.server_version,
            postgis_version: facts.postgis_version,
            dump_file: DUMP_FILE.into(),
            dump_size,
            dump_sha256,
            pg_dump_version: tools.version,
        },
        migrations: facts
            .migrations
            .into_iter()
            .map(|(version, description)| MigrationInfo { version, description })
            .collect(),
        storage: StorageInfo {
            backend: match storage.backend {
                StorageBackend::Local => "local".into(),
                StorageBackend::S3 => "s3".into(),
            },
            location: storage.location.clone(),
            objects_included: include_objects,
        },
        objects,
    };
    let manifest_path = tmp.path.join(MANIFEST_FILE);
    let text = serde_json::to_vec_pretty(&manifest)?;
    {
        use std::io::Write;
        let mut file = std::fs::File::create(&manifest_path)?;
        file.write_all(&text)?;
        file.write_all(b"\n")?;
        file.sync_all()?;
    }
    sync_dir(&tmp.path)?;
    if include_objects && tmp.path.join(OBJECTS_DIR).exists() {
        sync_tree(&tmp.path.join(OBJECTS_DIR))?;
    }
    // An empty `out` is replaced by the rename (rename(2) replaces an empty directory).
    std::fs::rename(&tmp.path, out).with_context(|| format!("renaming {} to {}", tmp.path.display(), out.display()))?;
    tmp.keep = true;
    if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
        sync_dir(parent)?;
    }
    Ok(BackupReport { dir: out.to_path_buf(), manifest, dump_time, objects_time, problems, deleted_meanwhile })
}

/// Syncs every directory under `root` (the files were synced as they were written), so the
/// directory entries of the objects are on disk before the backup is renamed into place.
fn sync_tree(root: &Path) -> anyhow::Result<()> {
    sync_dir(root)?;
    for entry in std::fs::read_dir(root)? {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            sync_tree(&entry.path())?;
        }
    }
    Ok(())
}

fn is_not_found(e: &anyhow::Error) -> bool {
    e.chain()
        .any(|cause| matches!(cause.downcast_ref::<object_store::Error>(), Some(object_store::Error::NotFound { .. })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_backup_goes_only_into_a_new_or_empty_directory() {
        let tmp = tempfile::tempdir().unwrap();
        let full = tmp.path().join("full");
        std::fs::create_dir(&full).unwrap();
        std::fs::write(full.join("x"), b"x").unwrap();
        assert!(prepare(&full).unwrap_err().to_string().contains("not empty"));
        let file = tmp.path().join("file");
        std::fs::write(&file, b"x").unwrap();
        assert!(prepare(&file).unwrap_err().to_string().contains("not a directory"));

        let empty = tmp.path().join("empty");
        std::fs::create_dir(&empty).unwrap();
        let partial = prepare(&empty).unwrap();
        assert!(partial.path.file_name().unwrap().to_string_lossy().starts_with(".empty.partial-"));
        let partial_path = partial.path.clone();
        drop(partial);
        assert!(!partial_path.exists(), "an unfinished backup's temporary directory is removed");
        let new = tmp.path().join("a/b/new");
        let partial = prepare(&new).unwrap();
        assert_eq!(partial.path.parent().unwrap(), tmp.path().join("a/b"));
    }
}
