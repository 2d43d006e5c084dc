//! `manifest.json`: what a backup directory holds, written last so that a backup with a manifest
//! is a whole one.

use std::path::Path;

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::storage::audit::is_owned_key;

/// The `format` field every manifest has.
pub const FORMAT: &str = "corpus-te-backup";
/// The manifest layout this binary writes and reads.
pub const FORMAT_VERSION: u32 = 1;
/// File name of the manifest inside a backup directory.
pub const MANIFEST_FILE: &str = "manifest.json";
/// File name of the database dump inside a backup directory.
pub const DUMP_FILE: &str = "database.dump";
/// Directory of the objects inside a backup directory (local storage only).
pub const OBJECTS_DIR: &str = "objects";

/// The description of one backup.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Manifest {
    /// Always [`FORMAT`].
    pub format: String,
    /// [`FORMAT_VERSION`] when written.
    pub format_version: u32,
    /// When the backup was taken (the database snapshot's time, RFC 3339 UTC).
    pub created_at: DateTime<Utc>,
    /// Version of the `corpus` binary that took it.
    pub service_version: String,
    /// The database and its dump.
    pub database: DatabaseInfo,
    /// Migrations applied to the database when it was dumped, oldest first.
    pub migrations: Vec<MigrationInfo>,
    /// Where the objects were stored, and whether they are in the backup.
    pub storage: StorageInfo,
    /// Every object the database referenced at the snapshot: records' files and the chunks of
    /// unfinished uploads, ordered by key.
    pub objects: Vec<ObjectEntry>,
}

/// The database a backup was taken from.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DatabaseInfo {
    /// Its name.
    pub name: String,
    /// The server's version (`15.20 (Debian ...)`).
    pub server_version: String,
    /// The PostGIS extension's version.
    pub postgis_version: Option<String>,
    /// The dump's file name ([`DUMP_FILE`]), in `pg_dump --format=custom`.
    pub dump_file: String,
    /// The dump's size in bytes.
    pub dump_size: u64,
    /// The dump's SHA-256.
    pub dump_sha256: String,
    /// The `pg_dump` that wrote it (`pg_dump (PostgreSQL) 15.20`).
    pub pg_dump_version: String,
}

/// One applied migration.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct MigrationInfo {
    /// Its version (the file name's timestamp).
    pub version: i64,
    /// Its description.
    pub description: String,
}

/// The storage a backup was taken from.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct StorageInfo {
    /// `local` or `s3`.
    pub backend: String,
    /// Where (`local:/srv/data`, `s3:https://host/bucket`).
    pub location: String,
    /// True when the objects are in the backup (under [`OBJECTS_DIR`]); false for S3, whose
    /// objects stay in the bucket and are only listed here.
    pub objects_included: bool,
}

/// One stored object.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ObjectEntry {
    /// Its key (also its path under [`OBJECTS_DIR`] when included).
    pub key: String,
    /// Its size in bytes.
    pub size: u64,
    /// Its SHA-256, lowercase hex.
    pub sha256: String,
}

impl Manifest {
    /// Total size of the objects.
    pub fn object_bytes(&self) -> u64 {
        self.objects.iter().map(|o| o.size).sum()
    }

    /// Reads and checks the manifest of the backup in `dir`.
    pub fn read(dir: &Path) -> anyhow::Result<Self> {
        let path = dir.join(MANIFEST_FILE);
        let text = std::fs::read_to_string(&path).with_context(|| {
            format!("reading {} (a directory without a manifest is not a whole backup)", path.display())
        })?;
        let manifest: Self =
            serde_json::from_str(&text).with_context(|| format!("{} is not a backup manifest", path.display()))?;
        manifest.check()?;
        Ok(manifest)
    }

    /// Refuses a manifest of another format or version, or one naming an object key that is not
    /// a plain key under the service's prefixes (it could point outside the backup or storage).
    pub fn check(&self) -> anyhow::Result<()> {
        if self.format != FORMAT {
            bail!("not a corpus-te backup (format `{}`)", self.format);
        }
        if self.format_version != FORMAT_VERSION {
            bail!(
                "backup format version {} is not supported by this release (it reads version {FORMAT_VERSION})",
                self.format_version
            );
        }
        if self.database.dump_file != DUMP_FILE {
            bail!("unexpected dump file name `{}`", self.database.dump_file);
        }
        for object in &self.objects {
            if !is_owned_key(&object.key) {
                bail!("the manifest names an object outside the service's prefixes: `{}`", object.key);
            }
            if object.sha256.len() != 64 || !object.sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
                bail!("the manifest's SHA-256 of `{}` is malformed", object.key);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest() -> Manifest {
        Manifest {
            format: FORMAT.into(),
            format_version: FORMAT_VERSION,
            created_at: Utc::now(),
            service_version: "0.1.0".into(),
            database: DatabaseInfo {
                name: "corpus_te".into(),
                server_version: "15.20".into(),
                postgis_version: Some("3.3.2".into()),
                dump_file: DUMP_FILE.into(),
                dump_size: 10,
                dump_sha256: "0".repeat(64),
                pg_dump_version: "pg_dump (PostgreSQL) 15.20".into(),
            },
            migrations: vec![MigrationInfo { version: 1, description: "baseline".into() }],
            storage: StorageInfo { backend: "local".into(), location: "local:./data".into(), objects_included: true },
            objects: vec![ObjectEntry { key: "audio/a.mp3".into(), size: 3, sha256: "a".repeat(64) }],
        }
    }

    #[test]
    fn a_manifest_round_trips_and_is_checked() {
        let m = manifest();
        let text = serde_json::to_string_pretty(&m).unwrap();
        let back: Manifest = serde_json::from_str(&text).unwrap();
        assert_eq!(back, m);
        back.check().unwrap();

        let mut bad = manifest();
        bad.objects[0].key = "../../etc/passwd".into();
        assert!(bad.check().unwrap_err().to_string().contains("outside"));
        let mut bad = manifest();
        bad.objects[0].key = "photos/x.jpg".into();
        assert!(bad.check().is_err());
        let mut bad = manifest();
        bad.format_version = 99;
        assert!(bad.check().unwrap_err().to_string().contains("version 99"));
        let mut bad = manifest();
        bad.objects[0].sha256 = "xyz".into();
        assert!(bad.check().is_err());
    }
}
