//! `corpus db ...`: status, info, init, migrate, seed, reinit, clean, backup, restore.

use std::process::ExitCode;

use anyhow::Context;
use clap::Subcommand;

use super::{
    backup::{BackupArgs, RestoreArgs, run_backup, run_restore},
    confirm::confirm,
};
use sqlx::Connection;

use crate::{
    config::{Config, StorageBackend},
    db::{self, status::Status},
    ops::rotation::{self, Destination},
    storage,
};

/// Database commands.
#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Server, database, PostGIS, migrations and row counts; exit 0 only when initialised and current.
    Status,
    /// The configuration in effect (passwords masked), then the status.
    Info,
    /// Smart initialisation: wait for PostgreSQL, create the database, enable PostGIS, apply every
    /// pending migration, seed roles. Idempotent; takes over a database of the original service.
    Init,
    /// Apply pending migrations only.
    Migrate,
    /// Insert the original's sample users, categories and records (development only) and, with
    /// `--categories`, the 14 production categories (idempotent).
    Seed {
        /// Also (in production: only) insert the 14 production categories.
        #[arg(long)]
        categories: bool,
    },
    /// DESTRUCTIVE: drop the database and the service's local files (its key prefixes under
    /// STORAGE_DIR; nothing else there), then initialise again.
    Reinit {
        /// Confirm without a prompt.
        #[arg(long)]
        yes: bool,
    },
    /// DESTRUCTIVE: drop the database and delete the service's local files (its key prefixes
    /// under STORAGE_DIR; nothing else there).
    Clean {
        /// Confirm without a prompt.
        #[arg(long)]
        yes: bool,
    },
    /// Back up the database (pg_dump, custom format) and the stored objects into a new directory
    /// with a manifest (every object's key, size and SHA-256). With S3 storage the objects stay in
    /// the bucket and are only listed. Needs the PostgreSQL client tools (pg_dump, pg_restore).
    Backup(BackupArgs),
    /// Restore a backup onto an empty database and storage, then apply pending migrations.
    /// DESTRUCTIVE when the database holds data or storage holds the service's objects: then it
    /// needs --yes (or a typed confirmation) and says what it replaces. Every object's SHA-256 is
    /// checked against the manifest; any mismatch exits non-zero.
    Restore(RestoreArgs),
}

/// Runs a database command.
pub async fn run(config: &Config, command: DbCommand) -> anyhow::Result<ExitCode> {
    config.validate()?;
    match command {
        DbCommand::Status => status(config).await,
        DbCommand::Info => {
            print_info(config);
            status(config).await
        }
        DbCommand::Init => {
            init(config).await?;
            Ok(ExitCode::SUCCESS)
        }
        DbCommand::Migrate => {
            let pool = db::connect(config).await?;
            let before = pending_count(config).await?;
            db::MIGRATOR.run(&pool).await.context("applying migrations")?;
            pool.close().await;
            println!("applied {before} migration(s); the schema is current");
            Ok(ExitCode::SUCCESS)
        }
        DbCommand::Seed { categories } => {
            let status = db::status::check(config).await?;
            if !status.is_ready() {
                print_status(&status);
                anyhow::bail!("the database is not initialised: run `corpus db init` first");
            }
            // The sample accounts have well-known passwords: never on a production database.
            if !config.is_development() && !categories {
                anyhow::bail!("sample data is for development only; in production only `db seed --categories` runs");
            }
            let pool = db::connect(config).await?;
            if config.is_development() {
                let mut hashes = Vec::with_capacity(db::seed::SAMPLE_USERS.len());
                for user in db::seed::SAMPLE_USERS {
                    hashes.push(crate::auth::password::hash(user.6.to_owned()).await?);
                }
                let report = db::seed::seed_samples(&pool, &hashes).await?;
                println!(
                    "sample data: {} user(s), {} categor(y/ies), {} record(s) inserted",
                    report.users, report.categories, report.records
                );
                println!(
                    "sample logins (development only): 1111111111/admin123, 2222222222/reviewer123, 3333333333/user123"
                );
            }
            if categories {
                let n = db::seed::seed_production_categories(&pool).await?;
                println!("production categories: {n} inserted");
            }
            pool.close().await;
            Ok(ExitCode::SUCCESS)
        }
        DbCommand::Reinit { yes } => {
            confirm(yes, "reinit (drops the database and local files, then initialises)")?;
            drop_everything(config).await?;
            init(config).await?;
            println!("reinitialised: empty database with roles seeded");
            Ok(ExitCode::SUCCESS)
        }
        DbCommand::Clean { yes } => {
            confirm(yes, "clean (drops the database and local files)")?;
            drop_everything(config).await?;
            println!("cleaned: run `corpus db init` (or start `corpus serve` in development) to start again");
            Ok(ExitCode::SUCCESS)
        }
        DbCommand::Backup(args) => run_backup(config, args).await,
        DbCommand::Restore(args) => run_restore(config, args).await,
    }
}

async fn init(config: &Config) -> anyhow::Result<()> {
    let report = db::init::initialize(config, &mut |line| println!("{line}")).await?;
    println!(
        "database initialised ({} migration(s) applied{})",
        report.applied.len(),
        if report.created_database { ", database created" } else { "" }
    );
    Ok(())
}

async fn pending_count(config: &Config) -> anyhow::Result<usize> {
    Ok(db::status::check_schema(config).await?.pending.len())
}

async fn drop_everything(config: &Config) -> anyhow::Result<()> {
    // Checked before anything is dropped, so a refused root destroys nothing.
    let storage_root = match config.storage_backend() {
        StorageBackend::Local => {
            storage::clean::check_clean_root(&config.storage.storage_dir, std::env::home_dir().as_deref())?
        }
        StorageBackend::S3 => None,
    };
    let options = config.pg_options()?;
    let name = db::database_name(&options);
    if db::init::drop_database(&options).await? {
        println!("dropped database {name}");
    } else {
        println!("database {name} did not exist");
    }
    match config.storage_backend() {
        StorageBackend::Local => {
            if let Some(root) = storage_root {
                let report = storage::clean::clean_local(&root)?;
                for path in &report.removed {
                    println!("deleted {}", path.display());
                }
                for (path, why) in &report.skipped {
                    println!("left {} alone: {why}", path.display());
                }
                let prefixes: Vec<_> = storage::clean::owned_prefixes().map(|p| format!("{p}/")).collect();
                println!(
                    "deleted the service's files under {} ({}); anything else there is untouched",
                    root.display(),
                    prefixes.join(", ")
                );
            }
        }
        StorageBackend::S3 => println!(
            "objects in bucket {} were not touched (the bucket may be shared); remove them with your S3 tools",
            config.storage.hz_obj_bucket_name
        ),
    }
    Ok(())
}

async fn status(config: &Config) -> anyhow::Result<ExitCode> {
    let status = db::status::check(config).await?;
    print_status(&status);
    print_disk_space(config);
    print_backups(config).await;
    Ok(if status.is_ready() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// Free disk space where files are kept and uploads are spooled. Reported, not judged by the
/// exit code (which is about the database), but marked LOW when an upload of `MAX_FILE_SIZE`
/// would not fit.
fn print_disk_space(config: &Config) {
    println!("Disk space");
    let spool = storage::spool::spool_dir(config.uploads.upload_tmp_dir.as_deref());
    let storage = match config.storage_backend() {
        StorageBackend::Local => Some(config.storage.storage_dir.clone()),
        StorageBackend::S3 => {
            println!("  --    storage: S3 bucket {} (free space is the provider's)", config.storage.hz_obj_bucket_name);
            None
        }
    };
    for (what, dir) in storage.iter().map(|d| ("storage", d)).chain([("spool", &spool)]) {
        match storage::free_space(dir) {
            Ok(free) => println!(
                "  {}  {what} {}: {} free",
                if free < config.uploads.max_file_size { "LOW " } else { "ok  " },
                dir.display(),
                human_bytes(free)
            ),
            Err(e) => println!("  FAIL  {what} {}: free space unknown ({e})", dir.display()),
        }
    }
}

/// The last successful backup (from the backup log) and the rotation in effect. Reported, not
/// judged by the exit code.
async fn print_backups(config: &Config) {
    println!("Backups");
    match rotation::destination(config) {
        Ok(Some(destination)) => println!(
            "  rotating: {} (keep {}, {})",
            match &destination {
                Destination::Directory(dir) => dir.display().to_string(),
                Destination::Bucket => format!("bucket, under {}/", rotation::BUCKET_PREFIX),
            },
            config.backups.backup_keep,
            match config.backups.backup_interval_hours {
                0 => "not scheduled".to_owned(),
                hours => format!("scheduled every {hours} h"),
            }
        ),
        Ok(None) => println!("  rotating: not configured (BACKUP_DIR or BACKUP_TO_BUCKET)"),
        Err(e) => println!("  FAIL  rotating: {e:#}"),
    }
    let last = async {
        let mut conn = sqlx::PgConnection::connect_with(&config.pg_options()?).await?;
        anyhow::Ok(db::backups::last_success(&mut conn).await?)
    };
    match last.await {
        Ok(Some(last)) => {
            let age = chrono::Utc::now() - last.finished_at;
            println!(
                "  last:     {} ({} h ago) at {}{}",
                last.finished_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                age.num_hours(),
                last.location,
                last.bytes.map(|b| format!(", {}", human_bytes(b.max(0) as u64))).unwrap_or_default()
            );
        }
        Ok(None) => println!("  last:     none recorded"),
        Err(e) => println!("  last:     unknown ({e:#})"),
    }
}

/// `bytes` in binary units with one decimal (`12.3 GiB`).
fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 { format!("{bytes} B") } else { format!("{value:.1} {}", UNITS[unit]) }
}

fn print_info(config: &Config) {
    let options = config.pg_options().ok();
    println!("Configuration");
    println!("  environment:   {:?}", config.corpus_env);
    if let Some(options) = &options {
        println!("  host:          {}", options.get_host());
        println!("  port:          {}", options.get_port());
        println!("  database:      {}", db::database_name(options));
        println!("  user:          {}", options.get_username());
    }
    println!("  url:           {}", config.database_url_masked());
    println!("  bind:          {}", config.http.bind);
    match config.storage_backend() {
        StorageBackend::Local => println!("  storage:       local {}", config.storage.storage_dir.display()),
        StorageBackend::S3 => println!(
            "  storage:       s3 {} bucket {}",
            storage::s3_endpoint(config).unwrap_or_default(),
            config.storage.hz_obj_bucket_name
        ),
    }
    println!(
        "  redis:         {}",
        config
            .limits
            .redis_url
            .as_ref()
            .map(crate::config::SecretUrl::masked)
            .unwrap_or_else(|| "not set (in-process rate limits)".into())
    );
    println!("  secret:        {}", if config.uses_default_secret() { "development default" } else { "set" });
    println!();
}

/// Prints a status report.
pub fn print_status(status: &Status) {
    println!("Database status");
    match &status.server {
        Ok(version) => println!("  ok    server reachable: {version}"),
        Err(err) => println!("  FAIL  server not reachable: {err}"),
    }
    match &status.database {
        Ok(()) => println!("  ok    database reachable"),
        Err(err) => println!("  FAIL  {err}"),
    }
    if status.database.is_ok() {
        match &status.postgis {
            Some(v) => println!("  ok    PostGIS {v}"),
            None => println!("  FAIL  PostGIS not enabled"),
        }
        println!(
            "  {}  migrations: {} applied, {} pending",
            if status.pending.is_empty() { "ok  " } else { "FAIL" },
            status.applied.len(),
            status.pending.len()
        );
        for (version, description) in &status.pending {
            println!("          pending {version} {description}");
        }
        if !status.unknown.is_empty() {
            println!("  FAIL  applied by a newer release, unknown to this binary: {:?}", status.unknown);
        }
        match &status.counts {
            Some(c) => println!(
                "  {}  roles: {}, users: {}, categories: {}, records: {}, otp: {}",
                if c.roles >= 3 { "ok  " } else { "FAIL" },
                c.roles,
                c.users,
                c.categories,
                c.records,
                c.otps
            ),
            None => println!("  FAIL  schema missing"),
        }
    }
    if status.is_ready() {
        println!("database is fully initialised and current");
    } else {
        println!("database is NOT ready: run `corpus db init`");
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn sizes_read_in_binary_units() {
        assert_eq!(super::human_bytes(512), "512 B");
        assert_eq!(super::human_bytes(1536), "1.5 KiB");
        assert_eq!(super::human_bytes(5 * 1024 * 1024 * 1024), "5.0 GiB");
        assert_eq!(super::human_bytes(u64::MAX), "16777216.0 TiB");
    }
}
