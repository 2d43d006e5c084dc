//! `corpus storage verify` and `corpus storage orphans`, black-box with the real binary, on the
//! local backend and on a real S3 server (s3s-fs in-process).

use std::path::Path;

use serde_json::Value;
use uuid::Uuid;

use crate::{
    helpers::{TestApp, cli},
    ops_backup::{Target, files, seed},
    records_upload::{S3_KEY, S3_SECRET, S3Server, spawn_s3},
};

fn storage_run(app: &TestApp, args: &[&str]) -> cli::Run {
    let mut full = vec!["storage"];
    full.extend_from_slice(args);
    cli::run(&app.db.url, app.storage_dir.path(), &full)
}

fn write(root: &Path, key: &str, bytes: &[u8]) {
    std::fs::create_dir_all(root.join(key).parent().unwrap()).unwrap();
    std::fs::write(root.join(key), bytes).unwrap();
}

#[tokio::test]
async fn ops_storage_verify_finds_a_deleted_object_a_flipped_byte_and_orphans_with_distinct_exit_codes() {
    let app = TestApp::spawn().await;
    let seeded = seed(&app).await;
    let root = app.storage_dir.path();

    let clean = storage_run(&app, &["verify", "--min-age-minutes", "0"]);
    assert_eq!(clean.code, 0, "{}", clean.all());
    assert!(clean.stdout.contains("0 missing, 0 mismatched, 0 orphan(s)"), "{}", clean.stdout);
    assert!(clean.stdout.contains(&format!("{} record object(s)", seeded.record_keys.len())), "{}", clean.stdout);
    assert!(!clean.all().contains('\u{1b}'), "no progress bar off a terminal: {}", clean.all());

    // An object nothing references: orphans only → 3; with the default grace period it is too
    // young to count yet → 0.
    let orphan = format!("audio/{}.mp3", Uuid::new_v4());
    write(root, &orphan, b"nobody's");
    let young = storage_run(&app, &["verify"]);
    assert_eq!(young.code, 0, "{}", young.all());
    assert!(young.stdout.contains("1 unreferenced object(s) younger than 60 min"), "{}", young.stdout);
    let orphans = storage_run(&app, &["verify", "--min-age-minutes", "0"]);
    assert_eq!(orphans.code, 3, "{}", orphans.all());
    assert!(orphans.stdout.contains(&format!("ORPHAN    {orphan}")), "{}", orphans.stdout);

    // One flipped byte in a record's object (same size): a SHA-256 mismatch → 4.
    let flipped = &seeded.record_keys[0];
    let mut bytes = std::fs::read(root.join(flipped)).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x80;
    std::fs::write(root.join(flipped), &bytes).unwrap();
    let damaged = storage_run(&app, &["verify", "--min-age-minutes", "0"]);
    assert_eq!(damaged.code, 4, "{}", damaged.all());
    assert!(damaged.stdout.contains(&format!("MISMATCH  {flipped}")), "{}", damaged.stdout);
    assert!(damaged.stdout.contains("SHA-256"), "{}", damaged.stdout);
    assert!(damaged.stdout.contains(&format!("ORPHAN    {orphan}")), "orphans are still listed: {}", damaged.stdout);

    // A deleted object → MISSING, still 4.
    let deleted = &seeded.record_keys[1];
    std::fs::remove_file(root.join(deleted)).unwrap();
    let damaged = storage_run(&app, &["verify", "--min-age-minutes", "0"]);
    assert_eq!(damaged.code, 4, "{}", damaged.all());
    assert!(damaged.stdout.contains(&format!("MISSING   {deleted}")), "{}", damaged.stdout);
    assert!(damaged.stdout.contains("1 missing, 1 mismatched, 1 orphan(s)"), "{}", damaged.stdout);

    // Without hashing, only presence and size are checked: the flipped byte goes unseen.
    let quick = storage_run(&app, &["verify", "--skip-hash", "--min-age-minutes", "0"]);
    assert_eq!(quick.code, 4, "{}", quick.all());
    assert!(quick.stdout.contains(&format!("MISSING   {deleted}")), "{}", quick.stdout);
    assert!(!quick.stdout.contains("MISMATCH"), "{}", quick.stdout);

    // A size that differs from the record is a mismatch too.
    let truncated = &seeded.record_keys[2];
    let bytes = std::fs::read(root.join(truncated)).unwrap();
    std::fs::write(root.join(truncated), &bytes[..bytes.len() - 1]).unwrap();
    let quick = storage_run(&app, &["verify", "--skip-hash", "--min-age-minutes", "0"]);
    assert!(quick.stdout.contains(&format!("MISMATCH  {truncated}")), "{}", quick.stdout);
    assert!(
        quick.stdout.contains(&format!("size {} stored, {} recorded", bytes.len() - 1, bytes.len())),
        "{}",
        quick.stdout
    );
}

#[tokio::test]
async fn ops_storage_orphans_delete_removes_only_orphans_and_never_a_foreign_file() {
    let app = TestApp::spawn().await;
    let seeded = seed(&app).await;
    let root = app.storage_dir.path();
    let before = files(root);

    let orphans = [
        format!("audio/{}.mp3", Uuid::new_v4()),
        format!("uploads/{}/0.{}", Uuid::new_v4(), "ab".repeat(32)),
        format!("health/{}", Uuid::new_v4()),
    ];
    for key in &orphans {
        write(root, key, b"left behind");
    }
    // Foreign files beside the service's prefixes.
    write(root, "leftover.bin", b"foreign");
    write(root, "photos/holiday.jpg", b"foreign");

    // Listed, not deleted; too young under the default grace period.
    let young = storage_run(&app, &["orphans"]);
    assert_eq!(young.code, 0, "{}", young.all());
    assert!(young.stdout.contains("0 orphan(s)"), "{}", young.stdout);
    assert!(young.stdout.contains("3 unreferenced object(s) younger than 60 min"), "{}", young.stdout);
    let listed = storage_run(&app, &["orphans", "--min-age-minutes", "0"]);
    assert_eq!(listed.code, 0, "{}", listed.all());
    for key in &orphans {
        assert!(listed.stdout.contains(&format!("ORPHAN    {key}")), "{key}: {}", listed.stdout);
        assert!(root.join(key).exists(), "listing deletes nothing");
    }
    assert!(listed.stdout.contains("3 orphan(s)"), "{}", listed.stdout);
    assert!(!listed.stdout.contains("leftover.bin") && !listed.stdout.contains("photos"), "{}", listed.stdout);

    let deleted = storage_run(&app, &["orphans", "--delete", "--min-age-minutes", "0"]);
    assert_eq!(deleted.code, 0, "{}", deleted.all());
    assert!(deleted.stdout.contains("deleted 3 orphan(s), kept 0"), "{}", deleted.stdout);
    for key in &orphans {
        assert!(!root.join(key).exists(), "{key} is gone");
    }
    let mut after = files(root);
    assert!(after.remove("leftover.bin").is_some(), "a foreign file survives");
    assert!(after.remove("photos/holiday.jpg").is_some(), "a foreign directory survives");
    assert_eq!(after, before, "every record's object and the live upload's chunks are kept");
    assert!(after.keys().any(|k| k.starts_with(&format!("uploads/{}/", seeded.live_upload))));
    let verify = storage_run(&app, &["verify", "--min-age-minutes", "0"]);
    assert_eq!(verify.code, 0, "{}", verify.all());

    // A prefix that is a symlink to someone else's directory: listed, never deleted through.
    #[cfg(unix)]
    {
        let elsewhere = tempfile::tempdir().unwrap();
        std::fs::write(elsewhere.path().join("x.jpg"), b"someone else's").unwrap();
        std::os::unix::fs::symlink(elsewhere.path(), root.join("image")).unwrap_or_else(|_| {
            // `image/` exists (seeded images): link a subdirectory instead.
            std::os::unix::fs::symlink(elsewhere.path(), root.join("image/linked")).unwrap()
        });
        let out = storage_run(&app, &["orphans", "--delete", "--min-age-minutes", "0"]);
        assert_ne!(out.code, 0, "{}", out.all());
        assert!(out.stdout.contains("symlink"), "{}", out.stdout);
        assert_eq!(std::fs::read(elsewhere.path().join("x.jpg")).unwrap(), b"someone else's");
    }
}

fn s3_env(s3: &S3Server, cmd: &mut std::process::Command) {
    cmd.env("STORAGE_BACKEND", "s3")
        .env("HZ_OBJ_ENDPOINT", format!("http://{}", s3.addr))
        .env("HZ_OBJ_ACCESS_KEY", S3_KEY)
        .env("HZ_OBJ_SECRET_KEY", S3_SECRET)
        .env("HZ_OBJ_BUCKET_NAME", "corpus-data")
        .env("HZ_OBJ_USE_SSL", "false");
}

fn run_s3(s3: &S3Server, url: &str, dir: &Path, args: &[&str]) -> cli::Run {
    let mut cmd = cli::corpus(url, dir);
    s3_env(s3, &mut cmd);
    cmd.args(args).output().unwrap().into()
}

// Multi-threaded: the S3 server runs in this process while the test waits for the binary.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ops_storage_verify_and_backup_work_on_s3() {
    let s3 = spawn_s3().await;
    let endpoint = format!("http://{}", s3.addr);
    let app = TestApp::spawn_with(move |c| {
        c.storage.storage_backend = Some(corpus_te::config::StorageBackend::S3);
        c.storage.hz_obj_endpoint = Some(endpoint);
        c.storage.hz_obj_access_key = Some(S3_KEY.into());
        c.storage.hz_obj_secret_key = Some(S3_SECRET.into());
        c.storage.hz_obj_bucket_name = "corpus-data".into();
        c.storage.hz_obj_use_ssl = "false".into();
    })
    .await;
    let seeded = seed(&app).await;
    let dir = app.storage_dir.path();
    // A file of someone else's in the bucket, outside the service's prefixes.
    std::fs::create_dir_all(s3.root.path().join("corpus-data/other")).unwrap();
    std::fs::write(s3.root.path().join("corpus-data/other/keep.bin"), b"foreign").unwrap();

    let clean = run_s3(&s3, &app.db.url, dir, &["storage", "verify", "--min-age-minutes", "0"]);
    assert_eq!(clean.code, 0, "{}", clean.all());
    assert!(clean.stdout.contains("s3:"), "{}", clean.stdout);

    // Backup of S3 storage: the manifest lists the objects, which stay in the bucket.
    let parent = tempfile::tempdir().unwrap();
    let backup = parent.path().join("b");
    let out = run_s3(&s3, &app.db.url, dir, &["db", "backup", "--out", backup.to_str().unwrap()]);
    assert_eq!(out.code, 0, "{}", out.all());
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(backup.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["storage"]["backend"], "s3");
    assert_eq!(manifest["storage"]["objects_included"], false);
    assert!(!backup.join("objects").exists());
    let keys: Vec<&str> = manifest["objects"].as_array().unwrap().iter().map(|o| o["key"].as_str().unwrap()).collect();
    for key in &seeded.record_keys {
        assert!(keys.contains(&key.as_str()), "{key} in {keys:?}");
    }

    // Restored into a fresh database on the same bucket: every object is found.
    let target = Target::new();
    let out = run_s3(&s3, &target.url, target.storage.path(), &["db", "restore", "--from", backup.to_str().unwrap()]);
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(out.stdout.contains(&format!("{} of {} found", keys.len(), keys.len())), "{}", out.stdout);

    // An object deleted from the bucket: verify says so (4), and a restore reports it missing.
    let gone = &seeded.record_keys[0];
    std::fs::remove_file(s3.root.path().join("corpus-data").join(gone)).unwrap();
    let damaged = run_s3(&s3, &app.db.url, dir, &["storage", "verify", "--min-age-minutes", "0"]);
    assert_eq!(damaged.code, 4, "{}", damaged.all());
    assert!(damaged.stdout.contains(&format!("MISSING   {gone}")), "{}", damaged.stdout);
    let out = run_s3(
        &s3,
        &target.url,
        target.storage.path(),
        &["db", "restore", "--from", backup.to_str().unwrap(), "--yes"],
    );
    assert_ne!(out.code, 0, "{}", out.all());
    assert!(out.stdout.contains(&format!("{gone}: missing")), "{}", out.stdout);

    // Orphans in the bucket are deleted; the foreign file stays.
    let orphan = format!("video/{}.mp4", Uuid::new_v4());
    std::fs::create_dir_all(s3.root.path().join("corpus-data/video")).unwrap();
    std::fs::write(s3.root.path().join("corpus-data").join(&orphan), b"orphan").unwrap();
    let out = run_s3(&s3, &app.db.url, dir, &["storage", "orphans", "--delete", "--min-age-minutes", "0"]);
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(out.stdout.contains(&format!("deleted   {orphan}")), "{}", out.stdout);
    assert!(!s3.root.path().join("corpus-data").join(&orphan).exists());
    assert_eq!(std::fs::read(s3.root.path().join("corpus-data/other/keep.bin")).unwrap(), b"foreign");
}
