//! `corpus storage ...`: verify the stored objects against the records, find and delete orphans.
//!
//! Only keys under the service's own prefixes (`text/`, `audio/`, `video/`, `image/`,
//! `uploads/`, `health/`) are looked at; other files in the directory or bucket are never listed
//! or touched.

use std::{process::ExitCode, time::Duration};

use clap::Subcommand;
use indicatif::BinaryBytes;

use crate::{
    config::Config,
    ops::{
        audit::{self, Orphan, Verdict},
        progress::Progress,
    },
    storage::Storage,
};

/// Exit code of `storage verify` when every record's object is intact but orphans exist.
pub const EXIT_ORPHANS: u8 = 3;
/// Exit code of `storage verify` when a record's object is missing or differs (size, SHA-256).
pub const EXIT_DAMAGED: u8 = 4;

/// Storage commands.
#[derive(Debug, Subcommand)]
pub enum StorageCommand {
    /// Check that every record's object exists with the size and SHA-256 the record holds, and list
    /// orphans (objects under the service's prefixes that no record or live upload references).
    /// Exit 0 when clean, 3 when the only findings are orphans, 4 when an object is missing or
    /// differs (whatever else), 1 when the check could not run.
    Verify {
        /// Check presence and size only, without reading the objects (fast; no SHA-256 check).
        #[arg(long)]
        skip_hash: bool,
        /// Unreferenced objects younger than this are not orphans yet (an upload stores its object
        /// just before it writes its record).
        #[arg(long, value_name = "MINUTES", default_value_t = 60)]
        min_age_minutes: u64,
    },
    /// List orphans: objects under the service's prefixes that no record or live upload
    /// references. With --delete, delete them (each is checked against the database once more
    /// first; nothing outside the service's prefixes is ever deleted).
    Orphans {
        /// Delete the orphans listed.
        #[arg(long)]
        delete: bool,
        /// Unreferenced objects younger than this are left alone.
        #[arg(long, value_name = "MINUTES", default_value_t = 60)]
        min_age_minutes: u64,
    },
}

/// Runs a storage command.
pub async fn run(config: &Config, command: StorageCommand) -> anyhow::Result<ExitCode> {
    let pool = super::connect(config).await?;
    let storage = Storage::from_config(config)?;
    let result = match command {
        StorageCommand::Verify { skip_hash, min_age_minutes } => {
            verify(&pool, &storage, !skip_hash, Duration::from_secs(min_age_minutes * 60)).await
        }
        StorageCommand::Orphans { delete, min_age_minutes } => {
            orphans(&pool, &storage, delete, Duration::from_secs(min_age_minutes * 60)).await
        }
    };
    pool.close().await;
    result
}

fn print_orphan(orphan: &Orphan) {
    println!(
        "ORPHAN    {} ({}, last written {})",
        orphan.key,
        BinaryBytes(orphan.size),
        orphan.last_modified.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    );
}

fn print_unreadable(unreadable: &[String]) {
    for entry in unreadable {
        println!("UNREADABLE {entry}");
    }
}

async fn verify(pool: &sqlx::PgPool, storage: &Storage, hash: bool, min_age: Duration) -> anyhow::Result<ExitCode> {
    let report = audit::verify(pool, storage, hash, min_age, Progress::for_terminal()).await?;
    for m in &report.missing {
        println!("MISSING   {} (record {})", m.key, m.uid);
    }
    for m in &report.mismatched {
        println!("MISMATCH  {} (record {}): {}", m.key, m.uid, m.detail);
    }
    for orphan in &report.orphans {
        print_orphan(orphan);
    }
    print_unreadable(&report.unreadable);
    println!(
        "{}: {} record object(s); {} hashed ({}), {} checked for presence and size only",
        storage.location,
        report.records,
        report.hashed,
        BinaryBytes(report.bytes_hashed),
        report.unhashed
    );
    println!(
        "{} missing, {} mismatched, {} orphan(s) ({}); {} unreferenced object(s) younger than {} min left alone",
        report.missing.len(),
        report.mismatched.len(),
        report.orphans.len(),
        BinaryBytes(report.orphans.iter().map(|o| o.size).sum()),
        report.recent_unreferenced,
        min_age.as_secs() / 60
    );
    Ok(match report.verdict() {
        Verdict::Clean => {
            println!("storage is consistent with the database");
            ExitCode::SUCCESS
        }
        Verdict::OrphansOnly => {
            println!("every record's object is intact; remove the orphans with `corpus storage orphans --delete`");
            ExitCode::from(EXIT_ORPHANS)
        }
        Verdict::Damaged => {
            println!("DAMAGED: records whose object is missing or differs (restore them from a backup)");
            ExitCode::from(EXIT_DAMAGED)
        }
    })
}

async fn orphans(pool: &sqlx::PgPool, storage: &Storage, delete: bool, min_age: Duration) -> anyhow::Result<ExitCode> {
    let found = audit::find_orphans(pool, storage, min_age).await?;
    for orphan in &found.orphans {
        print_orphan(orphan);
    }
    print_unreadable(&found.unreadable);
    let bytes: u64 = found.orphans.iter().map(|o| o.size).sum();
    println!(
        "{}: {} orphan(s) ({}); {} unreferenced object(s) younger than {} min left alone",
        storage.location,
        found.orphans.len(),
        BinaryBytes(bytes),
        found.recent_unreferenced,
        min_age.as_secs() / 60
    );
    if !delete || found.orphans.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    let report = audit::delete_orphans(pool, storage, &found.orphans).await?;
    for key in &report.deleted {
        println!("deleted   {key}");
    }
    for (key, why) in &report.kept {
        println!("kept      {key}: {why}");
    }
    println!("deleted {} orphan(s), kept {}", report.deleted.len(), report.kept.len());
    Ok(if report.kept.iter().any(|(_, why)| why != "referenced by now") {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
