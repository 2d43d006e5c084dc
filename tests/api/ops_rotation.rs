//! Rotating backups (`corpus db backup --rotate`, the command a cron job or the scheduler runs):
//! a new `corpus-backup-<UTC time>` backup each time, logged in `backup_run` (seen by `db status`
//! and `/metrics`), the oldest beyond `BACKUP_KEEP` deleted, and never anything the service did
//! not write. Into a directory and into the S3 test server's bucket, from which it restores.

use std::{path::Path, time::Duration};

use serde_json::json;

use crate::{
    helpers::{TestApp, cli},
    ops_backup::{Target, files, snapshot},
    records_upload::{S3_KEY, S3_SECRET, S3Server, spawn_s3},
};

fn rotate(app: &TestApp, env: &[(&str, &str)]) -> cli::Run {
    let mut cmd = cli::corpus(&app.db.url, app.storage_dir.path());
    cmd.args(["db", "backup", "--rotate"]);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run corpus").into()
}

fn backup_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("corpus-backup-2"))
        .collect();
    names.sort();
    names
}

/// Names carry the time to the second: two backups a second apart never collide.
fn next_second() {
    std::thread::sleep(Duration::from_millis(1100));
}

#[tokio::test]
async fn ops_rotation_keeps_the_newest_backups_and_never_deletes_foreign_files() {
    let app = TestApp::spawn().await;
    crate::ops_backup::seed(&app).await;
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().join("backups");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("README.txt"), "the operator's own notes").unwrap();
    std::fs::create_dir(dir.join("corpus-backup-by-hand")).unwrap();
    std::fs::write(dir.join("corpus-backup-by-hand/keep.txt"), "not ours").unwrap();
    let env = [("BACKUP_DIR", dir.to_str().unwrap()), ("BACKUP_KEEP", "2")];

    let mut written = Vec::new();
    for round in 0..3 {
        if round > 0 {
            next_second();
        }
        let out = rotate(&app, &env);
        assert_eq!(out.code, 0, "{}", out.all());
        assert!(out.stdout.contains("rotating backup corpus-backup-"), "{}", out.stdout);
        let names = backup_names(&dir);
        written.push(names.last().unwrap().clone());
        if round == 1 {
            // Something foreign inside the oldest backup: pruning must leave it (and its folder).
            std::fs::write(dir.join(&written[0]).join("objects/operator.txt"), "mine").unwrap();
        }
    }
    assert_eq!(backup_names(&dir), vec![written[0].clone(), written[1].clone(), written[2].clone()]);
    let oldest = dir.join(&written[0]);
    assert!(!oldest.join("manifest.json").exists() && !oldest.join("database.dump").exists());
    assert_eq!(files(&oldest), [("objects/operator.txt".to_owned(), hex_sha256(b"mine"))].into());
    for kept in &written[1..] {
        assert!(dir.join(kept).join("manifest.json").is_file(), "{kept}");
    }
    assert_eq!(std::fs::read_to_string(dir.join("README.txt")).unwrap(), "the operator's own notes");
    assert!(dir.join("corpus-backup-by-hand/keep.txt").is_file());

    // Three successful backups logged; `db status` and `/metrics` tell the newest.
    let logged: Vec<(bool, String)> =
        sqlx::query_as("SELECT succeeded, location FROM backup_run WHERE succeeded ORDER BY finished_at")
            .fetch_all(app.pool())
            .await
            .unwrap();
    assert_eq!(logged.len(), 3);
    assert_eq!(logged[2].1, dir.join(&written[2]).display().to_string());
    let mut status_cmd = cli::corpus(&app.db.url, app.storage_dir.path());
    status_cmd.args(["db", "status"]).envs(env);
    let status: cli::Run = status_cmd.output().unwrap().into();
    assert!(status.stdout.contains(&format!("at {}", dir.join(&written[2]).display())), "{}", status.stdout);
    assert!(status.stdout.contains("keep 2, scheduled every 24 h"), "{}", status.stdout);
    let metrics = app.get("/metrics").send().await.unwrap().text().await.unwrap();
    let age: f64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("corpus_backup_last_success_age_seconds "))
        .unwrap_or_else(|| panic!("{metrics}"))
        .parse()
        .unwrap();
    assert!((0.0..600.0).contains(&age), "{age}");
}

#[tokio::test]
async fn ops_rotation_refuses_without_a_destination_and_logs_a_failed_backup() {
    let app = TestApp::spawn().await;
    let out = rotate(&app, &[]);
    assert_ne!(out.code, 0);
    assert!(out.stderr.contains("BACKUP_DIR or BACKUP_TO_BUCKET"), "{}", out.all());
    let out = rotate(&app, &[("BACKUP_TO_BUCKET", "true")]);
    assert_ne!(out.code, 0);
    assert!(out.stderr.contains("needs S3 storage"), "{}", out.all());

    // A destination that cannot be written: the failure is logged with its reason; no success.
    let parent = tempfile::tempdir().unwrap();
    let file = parent.path().join("a-file");
    std::fs::write(&file, "").unwrap();
    let out = rotate(&app, &[("BACKUP_DIR", file.to_str().unwrap())]);
    assert_ne!(out.code, 0, "{}", out.all());
    let rows: Vec<(Option<bool>, Option<String>)> =
        sqlx::query_as("SELECT succeeded, error FROM backup_run").fetch_all(app.pool()).await.unwrap();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].0, Some(false));
    assert!(rows[0].1.as_deref().is_some_and(|e| !e.is_empty()), "{rows:?}");
    let metrics = app.get("/metrics").send().await.unwrap().text().await.unwrap();
    assert!(!metrics.contains("corpus_backup_last_success_age_seconds "), "{metrics}");
}

fn s3_env(s3: &S3Server) -> Vec<(String, String)> {
    [
        ("STORAGE_BACKEND", "s3".to_owned()),
        ("HZ_OBJ_ENDPOINT", format!("http://{}", s3.addr)),
        ("HZ_OBJ_ACCESS_KEY", S3_KEY.to_owned()),
        ("HZ_OBJ_SECRET_KEY", S3_SECRET.to_owned()),
        ("HZ_OBJ_BUCKET_NAME", "corpus-data".to_owned()),
        ("HZ_OBJ_USE_SSL", "false".to_owned()),
        ("BACKUP_TO_BUCKET", "true".to_owned()),
        ("BACKUP_KEEP", "1".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

// Multi-threaded: the S3 test server runs in this process while the test waits on the binary.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ops_rotation_into_the_bucket_keeps_the_newest_and_restores_from_it() {
    let s3 = spawn_s3().await;
    let app = TestApp::spawn().await;
    let spool = tempfile::tempdir().unwrap();
    let mut env = s3_env(&s3);
    env.push(("UPLOAD_TMP_DIR".into(), spool.path().to_str().unwrap().into()));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    sqlx::query("INSERT INTO category (name, title, published) VALUES ('bucket', 'Bucket', true)")
        .execute(app.pool())
        .await
        .unwrap();
    let foreign = s3.root.path().join("corpus-data/backups/notes.txt");
    std::fs::create_dir_all(foreign.parent().unwrap()).unwrap();
    std::fs::write(&foreign, "an operator's object").unwrap();

    let first = rotate(&app, &env);
    assert_eq!(first.code, 0, "{}", first.all());
    next_second();
    let second = rotate(&app, &env);
    assert_eq!(second.code, 0, "{}", second.all());
    // The server keeps a directory per key prefix; what counts is which backups still hold files.
    let backups = s3.root.path().join("corpus-data/backups");
    let names: Vec<String> =
        backup_names(&backups).into_iter().filter(|n| !files(&backups.join(n)).is_empty()).collect();
    assert_eq!(names.len(), 1, "BACKUP_KEEP=1: {names:?} {}", second.all());
    let name = &names[0];
    assert!(second.stdout.contains(name.as_str()), "{}", second.stdout);
    assert!(second.stdout.contains("deleted the old backup"), "{}", second.stdout);
    let kept = s3.root.path().join("corpus-data/backups").join(name);
    assert!(kept.join("manifest.json").is_file() && kept.join("database.dump").is_file());
    assert!(foreign.is_file(), "a foreign object under backups/ stays");
    assert_eq!(std::fs::read_dir(spool.path()).unwrap().count(), 0, "the staging directory is removed");

    // Restored from the bucket into a fresh database.
    let target = Target::new();
    let mut restore = cli::corpus(&target.url, target.storage.path());
    restore.args(["db", "restore", "--from-bucket", name]).envs(env.iter().copied());
    let out: cli::Run = restore.output().unwrap().into();
    assert_eq!(out.code, 0, "{}", out.all());
    let category: Vec<(String,)> = sqlx::query_as("SELECT name FROM category")
        .fetch_all(&mut <sqlx::PgConnection as sqlx::Connection>::connect(&target.url).await.unwrap())
        .await
        .unwrap();
    assert_eq!(category, vec![("bucket".to_owned(),)]);
    let mut source = snapshot(&app.db.name).await;
    let mut restored = snapshot(&target.name).await;
    source.remove("public.backup_run");
    restored.remove("public.backup_run");
    assert_eq!(restored, source);
    assert_eq!(json!(std::fs::read_dir(spool.path()).unwrap().count()), json!(0));
}

fn hex_sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

#[tokio::test]
async fn ops_rotation_runs_as_the_scheduled_backup_job() {
    use corpus_te::{
        jobs::{JobContext, kinds::ops::backup, scheduler::standard_schedule},
        state::AppState,
    };
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().join("scheduled");
    let without = TestApp::spawn().await;
    let state = AppState::new(without.config.clone(), without.pool().clone()).unwrap();
    assert!(!standard_schedule(&state).iter().any(|p| p.kind == "backup"), "no destination, no scheduled backup");

    let target = dir.clone();
    let app = TestApp::spawn_with(move |c| {
        c.backups.backup_dir = Some(target);
        c.backups.backup_interval_hours = 6;
    })
    .await;
    let state = AppState::new(app.config.clone(), app.pool().clone()).unwrap();
    let periodic = standard_schedule(&state).into_iter().find(|p| p.kind == "backup").expect("scheduled");
    assert_eq!(periodic.every, Duration::from_secs(6 * 3600));

    let result = backup(JobContext::detached(state, "backup", json!({}), None)).await.unwrap();
    let name = result["name"].as_str().unwrap();
    assert_eq!(backup_names(&dir), vec![name.to_owned()]);
    assert!(dir.join(name).join("manifest.json").is_file());
    let scheduled: bool =
        sqlx::query_scalar("SELECT scheduled FROM backup_run WHERE succeeded").fetch_one(app.pool()).await.unwrap();
    assert!(scheduled);
}
