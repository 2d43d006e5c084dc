//! `corpus db backup` and `corpus db restore`.

use std::{path::PathBuf, process::ExitCode, time::Duration};

use anyhow::Context;
use indicatif::BinaryBytes;

use super::confirm::confirm;
use crate::{
    config::Config,
    ops::{
        backup::backup,
        progress::Progress,
        restore::{self, DatabaseState},
        rotation,
    },
    storage::spool::spool_dir,
};

/// Arguments of `db backup`.
#[derive(Debug, clap::Args)]
pub struct BackupArgs {
    /// Directory to write the backup into: created, or empty (a non-empty one is refused). It
    /// appears only once the backup is whole.
    #[arg(long, value_name = "DIR", required_unless_present = "rotate", conflicts_with = "rotate")]
    pub out: Option<PathBuf>,
    /// Write a new `corpus-backup-<UTC time>` backup into BACKUP_DIR (or the bucket with
    /// BACKUP_TO_BUCKET), then delete the oldest beyond BACKUP_KEEP: the command for a cron job.
    #[arg(long)]
    pub rotate: bool,
}

/// Arguments of `db restore`.
#[derive(Debug, clap::Args)]
pub struct RestoreArgs {
    /// A backup directory written by `corpus db backup`.
    #[arg(long, value_name = "DIR", required_unless_present = "from_bucket", conflicts_with = "from_bucket")]
    pub from: Option<PathBuf>,
    /// A rotating backup in the bucket (`corpus-backup-<UTC time>`, as `db backup --list`
    /// prints): downloaded into the upload spool directory, then restored.
    #[arg(long, value_name = "NAME")]
    pub from_bucket: Option<String>,
    /// Replace a database that holds data and the service's objects in storage without a
    /// prompt (what is replaced is printed first).
    #[arg(long)]
    pub yes: bool,
}

/// Decimal megabytes per second, as disks and networks are rated.
fn rate(bytes: u64, time: Duration) -> String {
    let secs = time.as_secs_f64().max(0.001);
    format!("{:.1} MB/s", bytes as f64 / 1e6 / secs)
}

/// Runs `db backup`.
pub async fn run_backup(config: &Config, args: BackupArgs) -> anyhow::Result<ExitCode> {
    // Interrupted, the backup's future is dropped: pg_dump is killed and the temporary directory
    // removed, so no half backup stays behind.
    let work = async {
        match &args.out {
            Some(out) => {
                let location = out.display().to_string();
                rotation::logged(config, &location, false, backup(config, out, Progress::for_terminal())).await
            }
            None => {
                let destination = rotation::destination(config)?
                    .context("--rotate needs BACKUP_DIR or BACKUP_TO_BUCKET (see `corpus db backup --help`)")?;
                let rotated = rotation::rotate(config, &destination, false, Progress::for_terminal()).await?;
                for name in &rotated.pruned {
                    println!("deleted the old backup {name} (BACKUP_KEEP={})", config.backups.backup_keep);
                }
                println!("rotating backup {} written to {}", rotated.name, rotated.location);
                Ok(rotated.backup)
            }
        }
    };
    let report = tokio::select! {
        report = work => report?,
        () = super::signal::shutdown_signal() => anyhow::bail!("interrupted: no backup was written"),
    };
    let m = &report.manifest;
    println!("backup written to {}", report.dir.display());
    println!(
        "  database: {} (PostgreSQL {}, PostGIS {}), {} migration(s); dump {} in {:.1} s",
        m.database.name,
        m.database.server_version,
        m.database.postgis_version.as_deref().unwrap_or("not enabled"),
        m.migrations.len(),
        BinaryBytes(m.database.dump_size),
        report.dump_time.as_secs_f64()
    );
    let bytes = m.object_bytes();
    if m.storage.objects_included {
        println!(
            "  objects: {} ({}) copied from {} in {:.1} s ({})",
            m.objects.len(),
            BinaryBytes(bytes),
            m.storage.location,
            report.objects_time.as_secs_f64(),
            rate(bytes, report.objects_time)
        );
    } else {
        println!(
            "  objects: {} ({}) listed in the manifest; they stay in {} (S3 objects are not copied)",
            m.objects.len(),
            BinaryBytes(bytes),
            m.storage.location
        );
    }
    if !report.deleted_meanwhile.is_empty() {
        println!(
            "  note: {} object(s) not backed up because their record was deleted while the backup ran",
            report.deleted_meanwhile.len()
        );
    }
    if report.problems.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    for problem in &report.problems {
        println!("  PROBLEM {problem}");
    }
    eprintln!(
        "error: the backup was written, but {} object(s) referenced by records are missing or differ from their \
         records (the backup holds what storage holds); run `corpus storage verify`",
        report.problems.len()
    );
    Ok(ExitCode::FAILURE)
}

/// Runs `db restore`.
pub async fn run_restore(config: &Config, args: RestoreArgs) -> anyhow::Result<ExitCode> {
    // A bucket backup is fetched whole first; the stage goes when this returns.
    let stage;
    let from = match (&args.from, &args.from_bucket) {
        (Some(dir), _) => dir.clone(),
        (None, Some(name)) => {
            stage = tempfile::Builder::new()
                .prefix(".corpus-restore-stage-")
                .tempdir_in(spool_dir(config.uploads.upload_tmp_dir.as_deref()))
                .context("creating the staging directory")?;
            let dir = stage.path().join(name);
            println!("downloading the backup {name} from the bucket");
            rotation::download(config, name, &dir).await?;
            dir
        }
        (None, None) => anyhow::bail!("give --from DIR or --from-bucket NAME"),
    };
    let plan = restore::plan(config, &from).await?;
    let m = &plan.manifest;
    println!(
        "restoring the backup of {} taken {} by corpus {} ({} object(s), {})",
        m.database.name,
        m.created_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        m.service_version,
        m.objects.len(),
        BinaryBytes(m.object_bytes())
    );
    match &plan.database_state {
        DatabaseState::Missing => println!("  database {}: does not exist; it is created", plan.database),
        DatabaseState::Empty => println!("  database {}: holds no data; it is recreated", plan.database),
        DatabaseState::HoldsData(_) => {}
    }
    if plan.replaces_data() {
        println!("This restore REPLACES data:");
        for line in plan.replacements() {
            println!("  - {line}");
        }
        confirm(args.yes, "restore (replaces the data listed above)")?;
    }
    let report = tokio::select! {
        report = restore::execute(config, &plan, Progress::for_terminal()) => report?,
        () = super::signal::shutdown_signal() => anyhow::bail!(
            "interrupted: the restore is incomplete (pg_restore runs in one transaction, so the database may be \
             empty); run it again with --yes"
        ),
    };
    println!("database {} restored in {:.1} s", plan.database, report.database_time.as_secs_f64());
    if !report.applied_migrations.is_empty() {
        println!(
            "  the backup was older than this release: applied {} migration(s) {:?}",
            report.applied_migrations.len(),
            report.applied_migrations
        );
    }
    if m.storage.objects_included {
        println!(
            "objects: {} ({}) restored into {} and checked (SHA-256) in {:.1} s ({})",
            report.objects_restored,
            BinaryBytes(report.bytes_restored),
            plan.storage_location,
            report.objects_time.as_secs_f64(),
            rate(report.bytes_restored, report.objects_time)
        );
    } else {
        println!(
            "objects: the backup lists them only (S3); {} of {} found in {} with the size the manifest says",
            report.objects_present,
            m.objects.len(),
            plan.storage_location
        );
    }
    if report.problems.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    for problem in &report.problems {
        println!("  PROBLEM {problem}");
    }
    eprintln!("error: {} object(s) failed their check; see above", report.problems.len());
    Ok(ExitCode::FAILURE)
}
