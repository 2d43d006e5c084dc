//! The dataset export on a real S3 server (s3s-fs in-process): the archive and manifests are
//! multipart uploads under `exports/`, their contents match the database and the bucket's
//! objects byte for byte, damaged objects are reported, a cancelled export leaves no object, and
//! the real binary exports to the bucket.

use std::path::Path;

use corpus_te::{
    exports::{self, Cancelled, Output, Selection, dataset::ProblemKind},
    storage::Storage,
};
use tokio_util::sync::CancellationToken;

use crate::{
    exports_dataset::{check_export, export, jsonl, tar_entries, walkdir},
    helpers::cli,
    ops_backup::seed,
    records_crud::category,
    records_upload::{S3_KEY, S3_SECRET, S3Server, fixture, spawn_on_s3, spawn_s3, upload},
};

fn bucket(s3: &S3Server) -> std::path::PathBuf {
    s3.root.path().join("corpus-data")
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The export's files in the bucket, beside s3s-fs's own metadata.
fn exported_files(s3: &S3Server) -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> =
        walkdir(&bucket(s3).join("exports")).into_iter().filter(|p| !p.to_string_lossy().contains(".s3s")).collect();
    files.sort();
    files
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exports_dataset_s3_writes_multipart_objects_matching_the_bucket() {
    let s3 = spawn_s3().await;
    let app = spawn_on_s3(&s3, S3_SECRET).await;
    seed(&app).await;
    // A file larger than one part, so the archive spans several parts.
    let user = app.contributor().await;
    let cat = category(&app, "long").await.to_string();
    let mut big = fixture("tone.wav");
    big.resize(big.len() + 17 * 1024 * 1024 + 123, 7);
    let (status, rec) = upload(
        &app,
        &user,
        &[("title", "పెద్ద పాట"), ("category_id", &cat), ("media_type", "audio")],
        Some(("file", "పాట.wav", &big)),
    )
    .await;
    assert_eq!(status, 201, "{rec}");

    let (summary, reports) = export(&app, &Selection::default(), Output::Storage { name: "first".into() }).await;
    assert!(summary.problems.is_empty(), "{:?}", summary.problems);
    assert!(summary.bytes > 17 * 1024 * 1024);
    assert!(summary.archive.ends_with("/exports/first/media.tar") && summary.archive.starts_with("s3:"));
    assert_eq!(reports.last().unwrap().0, summary.bytes);
    let dir = bucket(&s3).join("exports/first");
    let root = bucket(&s3);
    let listed = check_export(
        app.pool(),
        &read(&dir.join("manifest.jsonl")),
        &read(&dir.join("manifest.csv")),
        &read(&dir.join("media.tar")),
        |key| read(&root.join(key)),
    )
    .await;
    let total: i64 = sqlx::query_scalar("SELECT count(*) FROM record").fetch_one(app.pool()).await.unwrap();
    assert_eq!(listed.len() as i64, total);
    let uid = rec["uid"].as_str().unwrap();
    let entries = tar_entries(&read(&dir.join("media.tar")));
    assert_eq!(entries[&format!("media/audio/{uid}.wav")], big);

    // Damaged objects in the bucket are reported and not listed.
    let keys: Vec<(String, String)> = sqlx::query_as(
        "SELECT uid::text, object_key FROM record WHERE object_key IS NOT NULL AND media_type <> 'audio' \
         ORDER BY created_at, uid LIMIT 2",
    )
    .fetch_all(app.pool())
    .await
    .unwrap();
    let mut bytes = read(&root.join(&keys[0].1));
    let last = bytes.len() - 1;
    bytes[last] ^= 0x55;
    std::fs::write(root.join(&keys[0].1), &bytes).unwrap();
    std::fs::remove_file(root.join(&keys[1].1)).unwrap();
    let (summary, _) = export(&app, &Selection::default(), Output::Storage { name: "second".into() }).await;
    assert_eq!(summary.problems.len(), 2, "{:?}", summary.problems);
    assert!(matches!(
        summary.problems.iter().find(|p| p.key == keys[0].1).unwrap().kind,
        ProblemKind::HashMismatch { .. }
    ));
    assert!(matches!(summary.problems.iter().find(|p| p.key == keys[1].1).unwrap().kind, ProblemKind::Missing));
    let rows = jsonl(&read(&bucket(&s3).join("exports/second/manifest.jsonl")));
    assert_eq!(rows.len() as i64, total - 2);
    assert!(rows.iter().all(|r| r["id"] != keys[0].0.as_str() && r["id"] != keys[1].0.as_str()));

    // Cancelled mid-archive: no object of it is left (the uploads are aborted).
    let storage = Storage::from_config(&app.config).unwrap();
    let before = exported_files(&s3);
    let cancel = CancellationToken::new();
    let token = cancel.clone();
    let err = exports::run(
        app.pool(),
        &storage,
        &Selection::default(),
        Output::Storage { name: "cancelled".into() },
        move |current, _, _: &str| {
            if current > 0 {
                token.cancel()
            }
        },
        cancel,
    )
    .await
    .unwrap_err();
    assert!(err.is::<Cancelled>(), "{err:#}");
    assert_eq!(exported_files(&s3), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exports_dataset_s3_runs_from_the_command_line() {
    let s3 = spawn_s3().await;
    let app = spawn_on_s3(&s3, S3_SECRET).await;
    seed(&app).await;
    let mut cmd = cli::corpus(&app.db.url, app.storage_dir.path());
    cmd.env("STORAGE_BACKEND", "s3")
        .env("HZ_OBJ_ENDPOINT", format!("http://{}", s3.addr))
        .env("HZ_OBJ_ACCESS_KEY", S3_KEY)
        .env("HZ_OBJ_SECRET_KEY", S3_SECRET)
        .env("HZ_OBJ_BUCKET_NAME", "corpus-data")
        .env("HZ_OBJ_USE_SSL", "false")
        .args(["export", "dataset", "--media-type", "image", "--media-type", "video", "--out", "s3"]);
    let run: cli::Run = cmd.output().unwrap().into();
    assert_eq!(run.code, 0, "{}", run.all());
    let files = exported_files(&s3);
    assert_eq!(files.len(), 3, "{files:?}");
    let dir = files[0].parent().unwrap().to_owned();
    assert!(run.stdout.contains(&format!("s3:http://{}/corpus-data/exports/", s3.addr)), "{}", run.stdout);
    let rows = jsonl(&read(&dir.join("manifest.jsonl")));
    let expected: i64 = sqlx::query_scalar("SELECT count(*) FROM record WHERE media_type IN ('image', 'video')")
        .fetch_one(app.pool())
        .await
        .unwrap();
    assert_eq!(rows.len() as i64, expected);
    assert!(rows.iter().all(|r| r["media_type"] == "image" || r["media_type"] == "video"));
    let entries = tar_entries(&read(&dir.join("media.tar")));
    for row in &rows {
        let key: String = sqlx::query_scalar("SELECT object_key FROM record WHERE uid::text = $1")
            .bind(row["id"].as_str().unwrap())
            .fetch_one(app.pool())
            .await
            .unwrap();
        assert_eq!(entries[row["path"].as_str().unwrap()], read(&bucket(&s3).join(key)));
    }
}
