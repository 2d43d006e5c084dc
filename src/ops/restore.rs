//! `corpus db restore`: a backup of `corpus db backup` back into the configured database and
//! storage.
//!
//! Everything that can be checked without touching the target is checked first ([`plan`]): the
//! manifest, the dump's SHA-256, the presence and size of every object file, and that this
//! release knows every migration the backup's database had. Only then ([`execute`]) is the target
//! database dropped and created again, the dump restored with `pg_restore` in one transaction,
//! pending migrations applied (a backup from an older release comes back current), and the
//! objects copied into storage with their SHA-256 checked against the manifest as they go.

use std::{
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use sqlx::{Connection, PgConnection};

use super::{
    manifest::{DUMP_FILE, Manifest, OBJECTS_DIR},
    pgtools::{self, Target},
    progress::Progress,
};
use crate::{
    config::Config,
    db::{self, objects::TableRows},
    storage::{Storage, audit::hash_reader, objects::HEALTH_PREFIX},
};

/// The target database before a restore.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseState {
    /// It does not exist (it is created).
    Missing,
    /// It exists without data: no tables, or this service's schema with only the seeded roles.
    Empty,
    /// It holds data (tables with rows), which a restore replaces.
    HoldsData(Vec<TableRows>),
}

/// What a restore will do, worked out without changing anything.
#[derive(Debug)]
pub struct RestorePlan {
    /// The backup directory.
    pub dir: PathBuf,
    /// Its manifest.
    pub manifest: Manifest,
    /// The target database's name.
    pub database: String,
    /// The target database as it is.
    pub database_state: DatabaseState,
    /// Where objects go.
    pub storage_location: String,
    /// Objects of the service's own already in storage (only counted when the backup carries
    /// objects, which then replace them): (count, bytes).
    pub storage_objects: (usize, u64),
    /// Migrations of this release the backup's database lacked (applied after the restore).
    pub pending_migrations: Vec<i64>,
}

impl RestorePlan {
    /// True when the restore would replace data: the database holds data, or storage holds
    /// objects of the service's own that the backup's objects replace.
    pub fn replaces_data(&self) -> bool {
        matches!(self.database_state, DatabaseState::HoldsData(_)) || self.storage_objects.0 > 0
    }

    /// What the restore replaces, one line each, for the operator.
    pub fn replacements(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let DatabaseState::HoldsData(tables) = &self.database_state {
            let rows: Vec<String> =
                tables.iter().filter(|t| t.rows > 0).map(|t| format!("{} {}", t.table, t.rows)).collect();
            out.push(format!("database {} is dropped with its rows ({})", self.database, rows.join(", ")));
        }
        if self.storage_objects.0 > 0 {
            out.push(format!(
                "{} object(s) ({}) under the service's prefixes in {} are deleted",
                self.storage_objects.0,
                indicatif::BinaryBytes(self.storage_objects.1),
                self.storage_location
            ));
        }
        out
    }
}

/// What a restore did.
#[derive(Debug)]
pub struct RestoreReport {
    /// Migrations applied after the dump was restored (the backup was older than this release).
    pub applied_migrations: Vec<i64>,
    /// Objects copied into storage and found intact.
    pub objects_restored: usize,
    /// Their bytes.
    pub bytes_restored: u64,
    /// Objects found in storage as the manifest says (backups of S3 storage, whose objects stay
    /// in the bucket).
    pub objects_present: usize,
    /// Objects that failed their check: a SHA-256 or size that differs from the manifest (the
    /// object is not stored), or an object missing from the bucket.
    pub problems: Vec<String>,
    /// Time spent restoring the database.
    pub database_time: Duration,
    /// Time spent on the objects.
    pub objects_time: Duration,
}

/// Tables whose rows do not count as data: sqlx's bookkeeping, and the seeded roles (a database
/// fresh from `corpus db init` is empty).
fn holds_data(tables: &[TableRows]) -> bool {
    tables.iter().any(|t| match t.table.as_str() {
        "public._sqlx_migrations" => false,
        "public.role" => t.rows > db::SEED_ROLES.len() as i64,
        _ => t.rows > 0,
    })
}

/// Checks the backup in `dir` and looks at the target, changing nothing.
pub async fn plan(config: &Config, dir: &Path) -> anyhow::Result<RestorePlan> {
    let manifest = Manifest::read(dir)?;
    let unknown: Vec<i64> = manifest
        .migrations
        .iter()
        .map(|m| m.version)
        .filter(|v| db::MIGRATOR.iter().all(|m| m.version != *v))
        .collect();
    if !unknown.is_empty() {
        bail!(
            "the backup's database has migrations this release does not know ({unknown:?}): it was taken by a newer \
             release ({}); restore it with that release or a newer one",
            manifest.service_version
        );
    }
    let pending_migrations = db::MIGRATOR
        .iter()
        .map(|m| m.version)
        .filter(|v| manifest.migrations.iter().all(|m| m.version != *v))
        .collect();

    let dump = dir.join(DUMP_FILE);
    let (sha256, size) =
        hash_reader(tokio::fs::File::open(&dump).await.with_context(|| format!("opening {}", dump.display()))?)
            .await
            .with_context(|| format!("reading {}", dump.display()))?;
    if size != manifest.database.dump_size || sha256 != manifest.database.dump_sha256 {
        bail!(
            "{} is damaged: {size} bytes with SHA-256 {sha256}, the manifest says {} bytes with {}",
            dump.display(),
            manifest.database.dump_size,
            manifest.database.dump_sha256
        );
    }
    if manifest.storage.objects_included {
        let mut bad = Vec::new();
        for object in &manifest.objects {
            let path = dir.join(OBJECTS_DIR).join(&object.key);
            match std::fs::metadata(&path) {
                Ok(meta) if meta.is_file() && meta.len() == object.size => {}
                Ok(meta) => {
                    bad.push(format!("{} ({} bytes, the manifest says {})", object.key, meta.len(), object.size))
                }
                Err(_) => bad.push(format!("{} (missing)", object.key)),
            }
        }
        if !bad.is_empty() {
            let shown: Vec<_> = bad.iter().take(10).cloned().collect();
            bail!(
                "the backup is incomplete: {} object file(s) missing or of the wrong size under {}: {}{}",
                bad.len(),
                dir.join(OBJECTS_DIR).display(),
                shown.join(", "),
                if bad.len() > shown.len() { ", ..." } else { "" }
            );
        }
    }

    let options = config.pg_options()?;
    let database = db::database_name(&options);
    let database_state = match PgConnection::connect_with(&options).await {
        Ok(mut conn) => {
            let tables = db::objects::table_rows(&mut conn).await?;
            let _ = conn.close().await;
            if holds_data(&tables) { DatabaseState::HoldsData(tables) } else { DatabaseState::Empty }
        }
        Err(e) if db::is_missing_database(&e) => DatabaseState::Missing,
        Err(e) => return Err(e).context("connecting to the target database"),
    };

    let storage = Storage::from_config(config)?;
    let storage_objects = if manifest.storage.objects_included {
        let listing = storage.list_owned().await?;
        listing
            .objects
            .iter()
            .filter(|o| !o.key.starts_with(&format!("{HEALTH_PREFIX}/")))
            .fold((0, 0), |(n, bytes), o| (n + 1, bytes + o.size))
    } else {
        (0, 0)
    };
    Ok(RestorePlan {
        dir: dir.to_path_buf(),
        manifest,
        database,
        database_state,
        storage_location: storage.location.clone(),
        storage_objects,
        pending_migrations,
    })
}

/// Restores the backup as planned. The caller has obtained the operator's consent when
/// [`RestorePlan::replaces_data`].
pub async fn execute(config: &Config, plan: &RestorePlan, progress: Progress) -> anyhow::Result<RestoreReport> {
    let options = config.pg_options()?;
    let started = Instant::now();
    let server_version_num: i32 = {
        let mut conn = db::init::connect_maintenance(&options).await?;
        let version = db::server_version_num(&mut conn).await.context("reading the server's version");
        let _ = conn.close().await;
        version?
    };
    let tools = pgtools::find(pgtools::server_major(server_version_num)).await?;

    db::init::drop_database(&options).await?;
    db::init::create_database(&options, &plan.database).await?;

    // The restore list leaves out COMMENT ON EXTENSION, which only the extension's owner (a
    // superuser) may run; everything else is restored as the connecting user, in one transaction.
    let dump = plan.dir.join(DUMP_FILE);
    let list = tokio::process::Command::new(&tools.pg_restore)
        .arg("--list")
        .arg(&dump)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .context("starting pg_restore --list")?;
    if !list.status.success() {
        bail!("pg_restore --list failed ({}): {}", list.status, String::from_utf8_lossy(&list.stderr).trim());
    }
    let filtered: String = String::from_utf8_lossy(&list.stdout)
        .lines()
        .filter(|line| !line.contains(" COMMENT - EXTENSION "))
        .map(|line| format!("{line}\n"))
        .collect();
    let list_file = tempfile::NamedTempFile::new().context("creating the restore list")?;
    std::fs::write(list_file.path(), filtered)?;

    let spinner = progress.spinner("restoring the database");
    let mut cmd = tokio::process::Command::new(&tools.pg_restore);
    cmd.args(["--exit-on-error", "--single-transaction", "--no-owner", "--no-privileges"])
        .arg(format!("--use-list={}", list_file.path().display()));
    Target::from_config(config, Some(&plan.database))?.apply(&mut cmd);
    cmd.arg(&dump);
    let restored = pgtools::run(cmd, "pg_restore").await;
    spinner.finish_and_clear();
    restored?;

    let mut conn = PgConnection::connect_with(&options).await.context("connecting to the restored database")?;
    let before = db::init::applied_versions(&mut conn).await?;
    db::MIGRATOR.run(&mut conn).await.context("applying this release's migrations to the restored database")?;
    let applied_migrations: Vec<i64> =
        db::init::applied_versions(&mut conn).await?.into_iter().filter(|v| !before.contains(v)).collect();
    let _ = conn.close().await;
    let database_time = started.elapsed();

    let started = Instant::now();
    let storage = Storage::from_config(config)?;
    let mut report = RestoreReport {
        applied_migrations,
        objects_restored: 0,
        bytes_restored: 0,
        objects_present: 0,
        problems: Vec::new(),
        database_time,
        objects_time: Duration::ZERO,
    };
    if plan.manifest.storage.objects_included {
        if plan.storage_objects.0 > 0 {
            let listing = storage.list_owned().await?;
            for object in listing.objects.iter().filter(|o| !o.key.starts_with(&format!("{HEALTH_PREFIX}/"))) {
                storage.delete_owned(&object.key).await?;
            }
        }
        let bar = progress.bytes("objects", plan.manifest.object_bytes());
        let inc = |n: u64| bar.inc(n);
        for object in &plan.manifest.objects {
            let source = plan.dir.join(OBJECTS_DIR).join(&object.key);
            let (sha256, size) = storage.put_file_hashed(&object.key, &source, &inc).await?;
            if sha256 != object.sha256 || size != object.size {
                storage.delete_owned(&object.key).await?;
                report.problems.push(format!(
                    "{}: {size} bytes with SHA-256 {sha256} in the backup, the manifest says {} bytes with {}; not restored",
                    object.key, object.size, object.sha256
                ));
            } else {
                report.objects_restored += 1;
                report.bytes_restored += size;
            }
        }
        bar.finish_and_clear();
    } else {
        let listing = storage.list_owned().await?;
        for object in &plan.manifest.objects {
            match listing.objects.binary_search_by(|o| o.key.as_str().cmp(&object.key)) {
                Ok(i) if listing.objects[i].size == object.size => report.objects_present += 1,
                Ok(i) => report.problems.push(format!(
                    "{}: {} bytes in {}, the manifest says {}",
                    object.key, listing.objects[i].size, storage.location, object.size
                )),
                Err(_) => report.problems.push(format!("{}: missing from {}", object.key, storage.location)),
            }
        }
    }
    report.objects_time = started.elapsed();
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(table: &str, rows: i64) -> TableRows {
        TableRows { table: table.into(), rows }
    }

    #[test]
    fn a_freshly_initialised_database_holds_no_data() {
        assert!(!holds_data(&[]));
        assert!(!holds_data(&[t("public._sqlx_migrations", 7), t("public.role", 3), t("public.record", 0)]));
        assert!(holds_data(&[t("public.role", 3), t("public.user", 1)]));
        assert!(holds_data(&[t("public.role", 4)]));
        assert!(holds_data(&[t("other.things", 1)]));
    }
}
