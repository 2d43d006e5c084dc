//! The storage audit (`corpus storage verify|orphans`): does every record's object exist with the
//! size and SHA-256 the record holds, and which objects does nothing reference?
//!
//! An object is referenced by a record (`record.object_key`), by a live resumable upload (every
//! object under `uploads/<id>/` while upload `<id>` exists, and the object its finalise noted), by
//! an export job still held (a user data export, or a dataset export run as a job: every object
//! under `exports/<job id>/`), and nothing else; an admin's dataset export written by the command
//! (any other folder under `exports/`) is never an orphan: no row tracks
//! it, and it is the admin's to keep or remove. An unreferenced object younger than the grace
//! period is left alone: an upload stores its object a moment before it writes the row that
//! references it. Findings are checked again against the database before they are reported, and
//! each orphan once more right before it is deleted, so writes made during the audit are never
//! taken for damage or deleted.

use std::{
    collections::{HashMap, HashSet},
    time::Duration,
};

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use super::progress::Progress;
use crate::{
    db::objects as dbo,
    storage::{
        Storage,
        audit::{Listed, is_owned_key},
        objects::UPLOADS_PREFIX,
    },
};

/// A record whose object is not in storage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Missing {
    /// The record.
    pub uid: Uuid,
    /// The key it names.
    pub key: String,
}

/// A record whose object differs from what the record says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// The record.
    pub uid: Uuid,
    /// The object's key.
    pub key: String,
    /// What differs (`size 10 stored, 12 recorded`, `SHA-256 ... stored, ... recorded`).
    pub detail: String,
}

/// An object nothing references.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Orphan {
    /// Its key.
    pub key: String,
    /// Its size.
    pub size: u64,
    /// When it was last written.
    pub last_modified: DateTime<Utc>,
}

/// Everything `storage verify` found.
#[derive(Debug, Default)]
pub struct VerifyReport {
    /// Records that have an object.
    pub records: usize,
    /// Objects whose SHA-256 was computed and compared.
    pub hashed: usize,
    /// Bytes read to do so.
    pub bytes_hashed: u64,
    /// Records whose object exists but could not be hashed against anything (no SHA-256
    /// recorded, as for some rows of the original, or hashing skipped).
    pub unhashed: usize,
    /// Records whose object is missing.
    pub missing: Vec<Missing>,
    /// Records whose object has another size or SHA-256.
    pub mismatched: Vec<Mismatch>,
    /// Unreferenced objects older than the grace period.
    pub orphans: Vec<Orphan>,
    /// Unreferenced objects younger than the grace period (left alone).
    pub recent_unreferenced: usize,
    /// Storage entries that could not be listed.
    pub unreadable: Vec<String>,
}

/// The overall verdict of a verification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Every record's object is intact and nothing is orphaned.
    Clean,
    /// Every record's object is intact; some objects are orphans.
    OrphansOnly,
    /// Some record's object is missing or differs.
    Damaged,
}

impl VerifyReport {
    /// The verdict.
    pub fn verdict(&self) -> Verdict {
        if !self.missing.is_empty() || !self.mismatched.is_empty() {
            Verdict::Damaged
        } else if !self.orphans.is_empty() {
            Verdict::OrphansOnly
        } else {
            Verdict::Clean
        }
    }
}

/// What the database references, loaded at one moment.
struct References {
    records: HashSet<String>,
    sessions: HashSet<Uuid>,
    finalise_keys: HashSet<String>,
    /// Export jobs still held: their files under `exports/<job id>/` are theirs.
    exports: HashSet<Uuid>,
}

impl References {
    async fn load(pool: &PgPool) -> anyhow::Result<Self> {
        let mut conn = pool.acquire().await?;
        let records = dbo::record_objects(&mut conn).await?.into_iter().map(|r| r.object_key).collect();
        let uploads = dbo::upload_references(&mut conn).await?;
        let mut exports = HashSet::new();
        for kind in crate::db::jobs::EXPORT_KINDS {
            exports.extend(crate::db::jobs::ids_of_kind(&mut *conn, kind).await?);
        }
        Ok(Self {
            exports,
            records,
            sessions: uploads.sessions.into_iter().collect(),
            finalise_keys: uploads.finalise_keys.into_iter().collect(),
        })
    }

    fn references(&self, key: &str) -> bool {
        if self.records.contains(key) || self.finalise_keys.contains(key) {
            return true;
        }
        if key.starts_with("exports/") {
            // An export job's folder is named after its job and lives as long as the job;
            // any other folder there is an admin's dataset export (`corpus export dataset --out
            // s3`), which no row tracks: it is the admin's to keep or delete, never an orphan.
            return match crate::storage::objects::export_job_of(key) {
                Some(job) => self.exports.contains(&job),
                None => true,
            };
        }
        key.strip_prefix(UPLOADS_PREFIX)
            .and_then(|rest| rest.strip_prefix('/'))
            .and_then(|rest| rest.split('/').next())
            .and_then(|id| Uuid::parse_str(id).ok())
            .is_some_and(|id| self.sessions.contains(&id))
    }
}

/// Unreferenced objects of `listing`, checked against references loaded after the listing was
/// taken: (orphans older than `min_age`, count of younger ones).
async fn unreferenced(pool: &PgPool, listing: &[Listed], min_age: Duration) -> anyhow::Result<(Vec<Orphan>, usize)> {
    let refs = References::load(pool).await?;
    let cutoff = Utc::now() - chrono::Duration::from_std(min_age)?;
    let mut orphans = Vec::new();
    let mut recent = 0;
    for object in listing.iter().filter(|o| !refs.references(&o.key)) {
        if object.last_modified <= cutoff {
            orphans.push(Orphan { key: object.key.clone(), size: object.size, last_modified: object.last_modified });
        } else {
            recent += 1;
        }
    }
    Ok((orphans, recent))
}

/// Checks every record's object and finds the orphans. `hash` reads every object whose record
/// has a SHA-256 (otherwise only presence and size are checked).
pub async fn verify(
    pool: &PgPool,
    storage: &Storage,
    hash: bool,
    min_age: Duration,
    progress: Progress,
) -> anyhow::Result<VerifyReport> {
    let records = dbo::record_objects(&mut *pool.acquire().await?).await?;
    let listing = storage.list_owned().await?;
    let listed: HashMap<&str, u64> = listing.objects.iter().map(|o| (o.key.as_str(), o.size)).collect();
    let mut report =
        VerifyReport { records: records.len(), unreadable: listing.unreadable.clone(), ..VerifyReport::default() };

    let to_hash: u64 = if hash {
        records.iter().filter(|r| r.content_sha256.is_some()).filter_map(|r| listed.get(r.object_key.as_str())).sum()
    } else {
        0
    };
    let bar = progress.bytes("verifying", to_hash);
    let inc = |n: u64| bar.inc(n);
    let mut missing = Vec::new();
    let mut mismatched = Vec::new();
    for record in &records {
        let Some(&size) = listed.get(record.object_key.as_str()) else {
            missing.push(Missing { uid: record.uid, key: record.object_key.clone() });
            continue;
        };
        if let Some(expected) = record.file_size.filter(|s| u64::try_from(*s).ok() != Some(size)) {
            mismatched.push(Mismatch {
                uid: record.uid,
                key: record.object_key.clone(),
                detail: format!("size {size} stored, {expected} recorded"),
            });
            continue;
        }
        let Some(expected) = record.content_sha256.as_deref().map(|s| s.trim().to_ascii_lowercase()).filter(|_| hash)
        else {
            report.unhashed += 1;
            continue;
        };
        match storage.hash_object(&record.object_key, &inc).await {
            Ok((sha256, read)) => {
                report.hashed += 1;
                report.bytes_hashed += read;
                if sha256 != expected {
                    mismatched.push(Mismatch {
                        uid: record.uid,
                        key: record.object_key.clone(),
                        detail: format!("SHA-256 {sha256} stored, {expected} recorded"),
                    });
                }
            }
            Err(object_store::Error::NotFound { .. }) => {
                missing.push(Missing { uid: record.uid, key: record.object_key.clone() })
            }
            Err(e) => return Err(anyhow::Error::from(e).context(format!("reading {}", record.object_key))),
        }
    }
    bar.finish_and_clear();

    // A record deleted (or given another object) since it was read is no finding.
    let suspects: Vec<(Uuid, String)> = missing
        .iter()
        .map(|m| (m.uid, m.key.clone()))
        .chain(mismatched.iter().map(|m| (m.uid, m.key.clone())))
        .collect();
    if !suspects.is_empty() {
        let still: HashSet<Uuid> = dbo::records_still_referencing(pool, &suspects).await?.into_iter().collect();
        missing.retain(|m| still.contains(&m.uid));
        mismatched.retain(|m| still.contains(&m.uid));
    }
    report.missing = missing;
    report.mismatched = mismatched;
    (report.orphans, report.recent_unreferenced) = unreferenced(pool, &listing.objects, min_age).await?;
    Ok(report)
}

/// What `storage orphans` found: orphans older than the grace period, the count of younger
/// unreferenced objects, and entries that could not be listed.
#[derive(Debug, Default)]
pub struct OrphanReport {
    /// Unreferenced objects older than the grace period.
    pub orphans: Vec<Orphan>,
    /// Unreferenced objects younger than it (left alone).
    pub recent_unreferenced: usize,
    /// Storage entries that could not be listed.
    pub unreadable: Vec<String>,
}

/// Finds the orphans.
pub async fn find_orphans(pool: &PgPool, storage: &Storage, min_age: Duration) -> anyhow::Result<OrphanReport> {
    let listing = storage.list_owned().await?;
    let (orphans, recent_unreferenced) = unreferenced(pool, &listing.objects, min_age).await?;
    Ok(OrphanReport { orphans, recent_unreferenced, unreadable: listing.unreadable })
}

/// What deleting orphans did.
#[derive(Debug, Default)]
pub struct DeleteReport {
    /// Keys deleted.
    pub deleted: Vec<String>,
    /// Keys left alone, with why (referenced by now, refused).
    pub kept: Vec<(String, String)>,
}

/// Deletes `orphans` after checking each once more against the database: only keys under the
/// service's own prefixes that nothing references now are deleted.
pub async fn delete_orphans(pool: &PgPool, storage: &Storage, orphans: &[Orphan]) -> anyhow::Result<DeleteReport> {
    let refs = References::load(pool).await?;
    let mut report = DeleteReport::default();
    for orphan in orphans {
        if !is_owned_key(&orphan.key) {
            report.kept.push((orphan.key.clone(), "not under the service's own prefixes".into()));
        } else if refs.references(&orphan.key) {
            report.kept.push((orphan.key.clone(), "referenced by now".into()));
        } else {
            match storage.delete_owned(&orphan.key).await {
                Ok(()) => report.deleted.push(orphan.key.clone()),
                Err(e) => report.kept.push((orphan.key.clone(), format!("{e:#}"))),
            }
        }
    }
    Ok(report)
}
