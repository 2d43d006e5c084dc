//! `corpus db backup` and `corpus db restore`, black-box: a seeded deployment (served by the real
//! application while the backup runs) is backed up with the real binary and restored into a
//! fresh database and a fresh storage directory; every table's rows and every object must match.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
};

use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use sqlx::{Connection, PgConnection};
use uuid::Uuid;

use crate::{
    helpers::{TestApp, cli, drop_database_blocking, options_for, send, unique_db_name, url_for},
    records_crud::category,
    records_upload::{chunk, fixture, upload},
};

/// What [`seed`] made.
pub struct Seeded {
    /// Keys of the records' objects.
    pub record_keys: Vec<String>,
    /// The unfinished chunked upload.
    pub live_upload: Uuid,
}

/// Fills a deployment through its API: users with roles, categories, JSON and uploaded records
/// of every media type, a finished and an unfinished chunked upload, a review, a review lease
/// and a one-time code row.
pub async fn seed(app: &TestApp) -> Seeded {
    let (_admin, reviewer, alice, bob) =
        (app.admin().await, app.reviewer().await, app.contributor().await, app.contributor().await);
    sqlx::query("INSERT INTO user_roles (user_id, role_id) VALUES ($1, 3)")
        .bind(bob.id)
        .execute(app.pool())
        .await
        .unwrap();
    let music = category(app, "music").await.to_string();
    let fables = category(app, "fables").await.to_string();

    let (status, body) = send(app.post("/api/v1/records/").header("Authorization", alice.bearer()).json(&json!({
        "title": "కథ", "media_type": "text", "category_id": fables, "description": "ఒక కథ",
        "location": {"latitude": 17.385, "longitude": 78.4867}
    })))
    .await;
    assert_eq!(status, 201, "{body}");

    let mut uploaded = Vec::new();
    for (user, name, client_name, media, cat) in [
        (&alice, "tone.ogg", "పాట.ogg", "audio", &music),
        (&alice, "pic.png", "చిత్రం.png", "image", &fables),
        (&bob, "clip.mp4", "clip.mp4", "video", &music),
        (&bob, "telugu.txt", "కథ.txt", "text", &fables),
        (&bob, "pic.jpg", "pic.jpg", "image", &fables),
    ] {
        let (status, rec) = upload(
            app,
            user,
            &[
                ("title", name),
                ("category_id", cat),
                ("media_type", media),
                ("latitude", "17.4"),
                ("longitude", "78.5"),
            ],
            Some(("file", client_name, &fixture(name))),
        )
        .await;
        assert_eq!(status, 201, "{rec}");
        uploaded.push(rec);
    }

    // A finished chunked upload, and one still in progress (2 of 3 chunks).
    let bytes = fixture("tone.wav");
    let parts: Vec<&[u8]> = bytes.chunks(bytes.len() / 2 + 1).collect();
    let done = Uuid::new_v4();
    for (i, part) in parts.iter().enumerate() {
        assert_eq!(chunk(app, &alice, done, i, parts.len(), part).await.0, 200);
    }
    let form = [
        ("title", "chunked"),
        ("category_id", music.as_str()),
        ("media_type", "audio"),
        ("upload_uuid", &done.to_string()),
        ("filename", "tone.wav"),
        ("total_chunks", &parts.len().to_string()),
    ];
    let (status, rec) =
        send(app.post("/api/v1/records/upload").header("Authorization", alice.bearer()).form(&form)).await;
    assert_eq!(status, 201, "{rec}");
    uploaded.push(rec);
    let live_upload = Uuid::new_v4();
    let clip = fixture("clip.webm");
    let parts: Vec<&[u8]> = clip.chunks(clip.len() / 3 + 1).collect();
    for i in [0, 2] {
        assert_eq!(chunk(app, &bob, live_upload, i, parts.len(), parts[i]).await.0, 200);
    }

    // A review, a lease on the queue, and a one-time code row.
    let first = uploaded[0]["uid"].as_str().unwrap().to_owned();
    let (status, body) = send(
        app.post(&format!("/api/v1/records/{first}/review"))
            .header("Authorization", reviewer.bearer())
            .json(&json!({"decision": "approve", "note": "నాణ్యత బాగుంది"})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = send(app.get("/api/v1/records/review/queue").header("Authorization", reviewer.bearer())).await;
    assert_eq!(status, 200, "{body}");
    sqlx::query(
        "INSERT INTO otp (phone_number, otp_hash, expires_at, created_at, updated_at, purpose)
         VALUES ('+919000000001', 'hash', now() + interval '5 minutes', now(), now(), 'signup')",
    )
    .execute(app.pool())
    .await
    .unwrap();

    let record_keys = sqlx::query_scalar("SELECT object_key FROM record WHERE object_key IS NOT NULL ORDER BY 1")
        .fetch_all(app.pool())
        .await
        .unwrap();
    Seeded { record_keys, live_upload }
}

/// Every table of a database (outside the system schemas, PostGIS's own left out) with all its
/// rows as JSON, sorted, and every sequence's position.
pub async fn snapshot(name: &str) -> BTreeMap<String, Value> {
    let mut conn = PgConnection::connect_with(&options_for(name)).await.unwrap();
    let relations: Vec<(String, String)> = sqlx::query_as(
        "SELECT format('%I.%I', n.nspname, c.relname), c.relkind::text FROM pg_class c
         JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE c.relkind IN ('r', 'S') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
           AND n.nspname NOT LIKE 'pg\\_%'
           AND NOT EXISTS (SELECT 1 FROM pg_depend d
                           WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
         ORDER BY 1",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    let mut out = BTreeMap::new();
    for (relation, kind) in relations {
        // A sequence's position (its log_cnt is an internal counter a restore resets).
        let sql = if kind == "S" {
            format!("SELECT jsonb_build_object('last_value', last_value, 'is_called', is_called) FROM {relation}")
        } else {
            format!("SELECT coalesce(jsonb_agg(to_jsonb(t) ORDER BY to_jsonb(t)::text), '[]'::jsonb) FROM {relation} t")
        };
        let rows: Value = sqlx::query_scalar(&sql).fetch_one(&mut conn).await.unwrap();
        out.insert(relation, rows);
    }
    conn.close().await.unwrap();
    out
}

/// Every file under `root` (relative path → SHA-256).
pub fn files(root: &Path) -> BTreeMap<String, String> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let rel = path.strip_prefix(root).unwrap().to_string_lossy().into_owned();
                out.insert(rel, hex::encode(Sha256::digest(std::fs::read(&path).unwrap())));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

/// A database name and storage directory to restore into, dropped at the end.
pub struct Target {
    pub name: String,
    pub url: String,
    pub storage: tempfile::TempDir,
}

impl Target {
    pub fn new() -> Self {
        let name = unique_db_name();
        Self { url: url_for(&name), name, storage: tempfile::tempdir().unwrap() }
    }

    pub fn run(&self, args: &[&str]) -> cli::Run {
        cli::run(&self.url, self.storage.path(), args)
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        drop_database_blocking(&self.name);
    }
}

fn backup_dir() -> (tempfile::TempDir, PathBuf) {
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().join("corpus-backup");
    (parent, dir)
}

#[tokio::test]
async fn ops_backup_restores_every_row_and_object_into_a_fresh_database_and_storage() {
    let app = TestApp::spawn().await;
    let seeded = seed(&app).await;
    let (_parent, dir) = backup_dir();

    let out = cli::run(&app.db.url, app.storage_dir.path(), &["db", "backup", "--out", dir.to_str().unwrap()]);
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(out.stdout.contains("backup written to"), "{}", out.stdout);
    // Quiet when not on a terminal: no progress bar escape codes.
    assert!(!out.all().contains('\u{1b}'), "{}", out.all());

    let manifest: Value = serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["format"], "corpus-te-backup");
    assert_eq!(manifest["format_version"], 1);
    assert_eq!(manifest["service_version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(manifest["database"]["name"], app.db.name.as_str());
    assert!(manifest["database"]["server_version"].as_str().unwrap().starts_with("15"), "{manifest}");
    assert!(manifest["database"]["postgis_version"].as_str().unwrap().starts_with('3'), "{manifest}");
    assert_eq!(manifest["migrations"].as_array().unwrap().len(), corpus_te::db::MIGRATOR.iter().count());
    assert_eq!(manifest["storage"]["backend"], "local");
    assert_eq!(manifest["storage"]["objects_included"], true);
    let dump = std::fs::read(dir.join("database.dump")).unwrap();
    assert!(dump.starts_with(b"PGDMP"), "a pg_dump custom-format archive");
    assert_eq!(manifest["database"]["dump_sha256"], hex::encode(Sha256::digest(&dump)));

    // Every object of the source storage (records' files and the live upload's chunks) is in the
    // manifest and in the backup, byte for byte.
    let source_files = files(app.storage_dir.path());
    let listed: BTreeMap<String, String> = manifest["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| (o["key"].as_str().unwrap().to_owned(), o["sha256"].as_str().unwrap().to_owned()))
        .collect();
    assert_eq!(listed, source_files, "the manifest lists every stored object with its SHA-256");
    assert_eq!(files(&dir.join("objects")), source_files, "the backup holds every object");
    for key in &seeded.record_keys {
        assert!(listed.contains_key(key), "{key}");
    }
    assert_eq!(listed.keys().filter(|k| k.starts_with(&format!("uploads/{}/", seeded.live_upload))).count(), 2);
    for object in manifest["objects"].as_array().unwrap() {
        let size = std::fs::metadata(app.storage_dir.path().join(object["key"].as_str().unwrap())).unwrap().len();
        assert_eq!(object["size"], size);
    }
    assert!(
        std::fs::read_dir(dir.parent().unwrap())
            .unwrap()
            .flatten()
            .all(|e| !e.file_name().to_string_lossy().contains("partial")),
        "no temporary directory is left"
    );

    // Restore into a database that does not exist yet and an empty storage directory.
    let target = Target::new();
    let out = target.run(&["db", "restore", "--from", dir.to_str().unwrap()]);
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(out.stdout.contains("restored"), "{}", out.stdout);
    let mut source = snapshot(&app.db.name).await;
    assert!(source.len() >= 10, "{:?}", source.keys());
    // The backup logs itself: the source's log says it succeeded, while the dump (taken during
    // the backup) holds the same entry unfinished. Every other table must match exactly.
    let source_log = source.remove("public.backup_run").unwrap();
    let source_log = source_log.as_array().unwrap();
    assert_eq!(source_log.len(), 1, "{source_log:?}");
    assert_eq!(
        (&source_log[0]["succeeded"], &source_log[0]["location"]),
        (&json!(true), &json!(dir.to_str().unwrap()))
    );
    let mut restored = snapshot(&target.name).await;
    let restored_log = restored.remove("public.backup_run").unwrap();
    assert_eq!(restored_log[0]["id"], source_log[0]["id"], "{restored_log}");
    assert_eq!(restored_log[0]["succeeded"], Value::Null, "{restored_log}");
    for table in [r#"public."user""#, "public.record", "public.category", "public.user_roles", "public.upload_chunk"] {
        assert_ne!(source[table], json!([]), "{table} was seeded");
    }
    assert_eq!(restored, source, "every table's rows are restored");
    assert_eq!(files(target.storage.path()), source_files, "every object is restored, byte for byte");
    let status = target.run(&["db", "status"]);
    assert_eq!(status.code, 0, "{}", status.all());
    let verify = target.run(&["storage", "verify", "--min-age-minutes", "0"]);
    assert_eq!(verify.code, 0, "{}", verify.all());

    // The restored target now holds data: a second restore is refused without --yes, saying what
    // it would replace, and changes nothing.
    sqlx::query("DELETE FROM otp")
        .execute(&mut PgConnection::connect_with(&options_for(&target.name)).await.unwrap())
        .await
        .unwrap();
    std::fs::write(target.storage.path().join("audio/extra.mp3"), b"not in the backup").unwrap();
    let changed = snapshot(&target.name).await;
    let refused = target.run(&["db", "restore", "--from", dir.to_str().unwrap()]);
    assert_ne!(refused.code, 0, "{}", refused.all());
    assert!(refused.stderr.contains("--yes"), "{}", refused.all());
    assert!(refused.stdout.contains("REPLACES"), "{}", refused.stdout);
    assert!(refused.stdout.contains("public.user"), "names the rows it would drop: {}", refused.stdout);
    assert!(refused.stdout.contains("object(s)"), "names the objects it would delete: {}", refused.stdout);
    assert_eq!(snapshot(&target.name).await, changed, "a refused restore changes nothing");
    assert!(target.storage.path().join("audio/extra.mp3").exists());

    // With --yes it replaces both: the rows and objects are the backup's again.
    let replaced = target.run(&["db", "restore", "--from", dir.to_str().unwrap(), "--yes"]);
    assert_eq!(replaced.code, 0, "{}", replaced.all());
    assert!(replaced.stdout.contains("REPLACES"), "{}", replaced.stdout);
    let mut replaced_rows = snapshot(&target.name).await;
    assert_eq!(replaced_rows.remove("public.backup_run").unwrap(), restored_log);
    assert_eq!(replaced_rows, source);
    assert_eq!(files(target.storage.path()), source_files);
}

#[tokio::test]
async fn ops_backup_restore_refuses_storage_holding_the_services_objects_without_yes() {
    let app = TestApp::spawn().await;
    let user = app.contributor().await;
    let cat = category(&app, "music").await.to_string();
    let (status, rec) = upload(
        &app,
        &user,
        &[("title", "t"), ("category_id", &cat), ("media_type", "image")],
        Some(("file", "pic.png", &fixture("pic.png"))),
    )
    .await;
    assert_eq!(status, 201, "{rec}");
    let (_parent, dir) = backup_dir();
    let out = cli::run(&app.db.url, app.storage_dir.path(), &["db", "backup", "--out", dir.to_str().unwrap()]);
    assert_eq!(out.code, 0, "{}", out.all());

    // The database does not exist, but storage has an object of the service's own.
    let target = Target::new();
    std::fs::create_dir_all(target.storage.path().join("video")).unwrap();
    std::fs::write(target.storage.path().join("video/old.mp4"), b"old").unwrap();
    std::fs::write(target.storage.path().join("notes.txt"), b"not the service's").unwrap();
    let refused = target.run(&["db", "restore", "--from", dir.to_str().unwrap()]);
    assert_ne!(refused.code, 0, "{}", refused.all());
    assert!(refused.stderr.contains("--yes"), "{}", refused.all());
    let mut admin = PgConnection::connect_with(&options_for("postgres")).await.unwrap();
    let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
        .bind(&target.name)
        .fetch_one(&mut admin)
        .await
        .unwrap();
    assert!(!exists, "nothing was created by a refused restore");

    let out = target.run(&["db", "restore", "--from", dir.to_str().unwrap(), "--yes"]);
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(!target.storage.path().join("video/old.mp4").exists(), "the service's old object is replaced");
    assert_eq!(std::fs::read(target.storage.path().join("notes.txt")).unwrap(), b"not the service's");
    let source = files(app.storage_dir.path());
    assert_eq!(source.len(), 1);
    let key = source.keys().next().unwrap();
    assert_eq!(std::fs::read(target.storage.path().join(key)).unwrap(), fixture("pic.png"));
}

#[tokio::test]
async fn ops_backup_restore_fails_on_a_damaged_object_and_never_stores_it() {
    let app = TestApp::spawn().await;
    seed(&app).await;
    let (_parent, dir) = backup_dir();
    let out = cli::run(&app.db.url, app.storage_dir.path(), &["db", "backup", "--out", dir.to_str().unwrap()]);
    assert_eq!(out.code, 0, "{}", out.all());
    // Flip one byte of one object in the backup (same size, so only the SHA-256 can tell).
    let manifest: Value = serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap();
    let key = manifest["objects"][0]["key"].as_str().unwrap().to_owned();
    let path = dir.join("objects").join(&key);
    let mut bytes = std::fs::read(&path).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    std::fs::write(&path, &bytes).unwrap();

    let target = Target::new();
    let out = target.run(&["db", "restore", "--from", dir.to_str().unwrap()]);
    assert_ne!(out.code, 0, "{}", out.all());
    assert!(out.stdout.contains(&format!("PROBLEM {key}")), "{}", out.all());
    assert!(!target.storage.path().join(&key).exists(), "a damaged object is not stored");
    let others = files(target.storage.path()).len();
    assert_eq!(others, manifest["objects"].as_array().unwrap().len() - 1, "every other object is restored");

    // A damaged dump is refused before anything is touched.
    let mut dump = std::fs::read(dir.join("database.dump")).unwrap();
    let last = dump.len() - 1;
    dump[last] ^= 0x01;
    std::fs::write(dir.join("database.dump"), &dump).unwrap();
    let fresh = Target::new();
    let out = fresh.run(&["db", "restore", "--from", dir.to_str().unwrap()]);
    assert_ne!(out.code, 0);
    assert!(out.stderr.contains("damaged"), "{}", out.all());
}

#[tokio::test]
async fn ops_backup_of_an_older_release_is_restored_current_and_bad_targets_are_refused() {
    // A database at every migration but the last, as an older release left it.
    let name = unique_db_name();
    let url = url_for(&name);
    struct DropDb(String);
    impl Drop for DropDb {
        fn drop(&mut self) {
            drop_database_blocking(&self.0);
        }
    }
    let _guard = DropDb(name.clone());
    let mut sorted: Vec<_> = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "sql"))
        .collect();
    sorted.sort();
    let older = tempfile::tempdir().unwrap();
    for path in &sorted[..sorted.len() - 1] {
        std::fs::copy(path, older.path().join(path.file_name().unwrap())).unwrap();
    }
    let mut admin = PgConnection::connect_with(&options_for("postgres")).await.unwrap();
    sqlx::query(&format!("CREATE DATABASE {}", corpus_te::db::quote_ident(&name))).execute(&mut admin).await.unwrap();
    let mut conn = PgConnection::connect_with(&options_for(&name)).await.unwrap();
    sqlx::migrate::Migrator::new(older.path()).await.unwrap().run(&mut conn).await.unwrap();
    corpus_te::db::init::seed_roles(&mut conn).await.unwrap();
    conn.close().await.unwrap();
    let storage = tempfile::tempdir().unwrap();

    // Refused: a non-empty output directory, and a database that does not exist; neither leaves
    // a directory behind.
    let (parent, dir) = backup_dir();
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("keep.txt"), b"x").unwrap();
    let out = cli::run(&url, storage.path(), &["db", "backup", "--out", dir.to_str().unwrap()]);
    assert_ne!(out.code, 0);
    assert!(out.stderr.contains("not empty"), "{}", out.all());
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
    let missing = parent.path().join("from-a-missing-database");
    let out =
        cli::run(&url_for(&unique_db_name()), storage.path(), &["db", "backup", "--out", missing.to_str().unwrap()]);
    assert_ne!(out.code, 0);
    assert!(!missing.exists());
    assert_eq!(std::fs::read_dir(parent.path()).unwrap().count(), 1, "no partial backup is left");

    let dir = parent.path().join("older");
    let out = cli::run(&url, storage.path(), &["db", "backup", "--out", dir.to_str().unwrap()]);
    assert_eq!(out.code, 0, "{}", out.all());
    let target = Target::new();
    let out = target.run(&["db", "restore", "--from", dir.to_str().unwrap()]);
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(out.stdout.contains("applied 1 migration(s)"), "{}", out.stdout);
    let status = target.run(&["db", "status"]);
    assert_eq!(status.code, 0, "the restored database is current: {}", status.all());

    // A backup naming a migration this release does not know (a newer release) is refused.
    let mut manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap();
    manifest["migrations"]
        .as_array_mut()
        .unwrap()
        .push(json!({"version": 99990101000000_i64, "description": "future"}));
    std::fs::write(dir.join("manifest.json"), serde_json::to_vec(&manifest).unwrap()).unwrap();
    let out = Target::new().run(&["db", "restore", "--from", dir.to_str().unwrap()]);
    assert_ne!(out.code, 0);
    assert!(out.stderr.contains("newer"), "{}", out.all());
}
