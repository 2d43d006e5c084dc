//! The dataset export on local storage: the manifest's rows match the database, the archive's
//! files match the stored objects byte for byte, filters select what they say, damaged objects
//! are reported and left out of the manifest, a cancelled export leaves nothing, and the real
//! binary runs it (`corpus export dataset`).

use std::{collections::BTreeMap, io::Read, path::Path};

use corpus_te::{
    exports::{
        self, Cancelled, Output, Selection,
        dataset::{ProblemKind, Summary},
    },
    storage::Storage,
};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use sqlx::{PgPool, Row};
use tokio_util::sync::CancellationToken;

use crate::{
    helpers::{TestApp, cli},
    ops_backup::seed,
};

/// SHA-256 as lower-case hex.
pub fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The entries of a tar archive: path → bytes.
pub fn tar_entries(archive: &[u8]) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    for entry in tar::Archive::new(archive).entries().expect("a tar archive") {
        let mut entry = entry.expect("a whole entry");
        let path = entry.path().unwrap().to_string_lossy().into_owned();
        let mut body = Vec::new();
        entry.read_to_end(&mut body).unwrap();
        assert!(out.insert(path.clone(), body).is_none(), "{path} twice in the archive");
    }
    out
}

/// The JSON Lines manifest as values.
pub fn jsonl(bytes: &[u8]) -> Vec<Value> {
    std::str::from_utf8(bytes).unwrap().lines().map(|l| serde_json::from_str(l).expect("a JSON line")).collect()
}

/// Every record of the database as the manifest should state it, by id.
pub async fn expected_rows(pool: &PgPool) -> BTreeMap<String, Value> {
    let rows = sqlx::query(
        "SELECT r.uid::text AS id, r.object_key, r.content_sha256::text AS sha256, r.file_size, r.duration_seconds, \
         r.mime_type, r.media_type::text AS media_type, r.language, c.name AS category, ST_Y(r.location) AS lat, \
         ST_X(r.location) AS lon, r.release_rights, r.reviewed, r.review_status \
         FROM record r JOIN category c ON c.id = r.category_id",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    rows.into_iter()
        .map(|r| {
            let id: String = r.get("id");
            let key: Option<String> = r.get("object_key");
            let reviewed: bool = r.get("reviewed");
            let review: Option<String> = r.get("review_status");
            let lat: Option<f64> = r.get("lat");
            let lon: Option<f64> = r.get("lon");
            let location = match (lat, lon) {
                (Some(latitude), Some(longitude)) => json!({"latitude": latitude, "longitude": longitude}),
                _ => Value::Null,
            };
            let row = json!({
                "id": id,
                "object_key": key,
                "sha256": r.get::<Option<String>, _>("sha256"),
                "size": r.get::<Option<i64>, _>("file_size"),
                "duration_seconds": r.get::<Option<i32>, _>("duration_seconds"),
                "mime_type": r.get::<Option<String>, _>("mime_type"),
                "media_type": r.get::<String, _>("media_type"),
                "language": r.get::<Option<String>, _>("language"),
                "category": r.get::<String, _>("category"),
                "location": location,
                "release_rights": r.get::<Option<String>, _>("release_rights"),
                "review_status": if reviewed { review.unwrap_or_else(|| "reviewed".into()) } else { "unreviewed".into() },
            });
            (id, row)
        })
        .collect()
}

/// Checks an export's three files against the database and the stored objects (`object(key)`
/// reads one): every manifest row is its record's, in JSON Lines and CSV alike; every archived
/// file is the stored object, byte for byte, with the recorded SHA-256. Returns the ids listed.
pub async fn check_export(
    pool: &PgPool,
    manifest: &[u8],
    csv: &[u8],
    archive: &[u8],
    object: impl Fn(&str) -> Vec<u8>,
) -> Vec<String> {
    let expected = expected_rows(pool).await;
    let rows = jsonl(manifest);
    let entries = tar_entries(archive);
    let mut listed = Vec::new();
    for row in &rows {
        let id = row["id"].as_str().unwrap();
        let want = &expected[id];
        for field in [
            "duration_seconds",
            "mime_type",
            "media_type",
            "language",
            "category",
            "location",
            "release_rights",
            "review_status",
        ] {
            assert_eq!(row[field], want[field], "{field} of {id}");
        }
        match want["object_key"].as_str() {
            Some(key) => {
                let path = row["path"].as_str().expect("a path for a record with a file");
                assert!(path.starts_with(&format!("media/{}/{id}", want["media_type"].as_str().unwrap())), "{path}");
                let bytes = &entries[path];
                assert_eq!(bytes, &object(key), "{path} is the stored object {key}");
                assert_eq!(row["sha256"], want["sha256"], "sha256 of {id}");
                assert_eq!(row["sha256"].as_str(), Some(sha256(bytes).as_str()));
                assert_eq!(row["size"], want["size"]);
                assert_eq!(row["size"].as_u64(), Some(bytes.len() as u64));
            }
            None => assert_eq!((&row["path"], &row["sha256"]), (&Value::Null, &Value::Null), "{id}"),
        }
        listed.push(id.to_owned());
    }
    // The archive holds exactly the listed files.
    let paths: Vec<&str> = rows.iter().filter_map(|r| r["path"].as_str()).collect();
    assert_eq!(entries.len(), paths.len(), "archive entries {:?}", entries.keys());
    // The CSV says the same, row for row.
    let mut reader = csv::Reader::from_reader(csv);
    let header = reader.headers().unwrap().clone();
    assert_eq!(&header[0], "id");
    let records: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(records.len(), rows.len());
    for (record, row) in records.iter().zip(&rows) {
        let field = |name: &str| record[header.iter().position(|h| h == name).unwrap()].to_owned();
        assert_eq!(field("id"), row["id"].as_str().unwrap());
        assert_eq!(field("path"), row["path"].as_str().unwrap_or(""));
        assert_eq!(field("sha256"), row["sha256"].as_str().unwrap_or(""));
        assert_eq!(field("category"), row["category"].as_str().unwrap());
        assert_eq!(field("review_status"), row["review_status"].as_str().unwrap());
        let latitude = row["location"]["latitude"].as_f64().map(|v| v.to_string()).unwrap_or_default();
        assert_eq!(field("latitude"), latitude);
    }
    listed
}

/// Runs an export from the library, collecting the progress reports.
pub async fn export(app: &TestApp, selection: &Selection, output: Output) -> (Summary, Vec<(u64, u64, String)>) {
    let storage = Storage::from_config(&app.config).unwrap();
    let mut reports = Vec::new();
    let summary = exports::run(
        app.pool(),
        &storage,
        selection,
        output,
        |current, total, status: &str| reports.push((current, total, status.to_owned())),
        CancellationToken::new(),
    )
    .await
    .expect("the export runs");
    (summary, reports)
}

fn read(dir: &Path, file: &str) -> Vec<u8> {
    std::fs::read(dir.join(file)).unwrap_or_else(|e| panic!("{}: {e}", dir.join(file).display()))
}

#[tokio::test]
async fn exports_dataset_matches_the_database_and_the_stored_objects() {
    let app = TestApp::spawn().await;
    seed(&app).await;
    sqlx::query("UPDATE record SET language = 'te', release_rights = 'CC-BY-4.0' WHERE media_type = 'audio'")
        .execute(app.pool())
        .await
        .unwrap();
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("export");
    let (summary, reports) = export(&app, &Selection::default(), Output::Directory(dir.clone())).await;
    let total: i64 = sqlx::query_scalar("SELECT count(*) FROM record").fetch_one(app.pool()).await.unwrap();
    assert_eq!(summary.selected, total as u64);
    assert_eq!(summary.records, total as u64);
    assert!(summary.problems.is_empty(), "{:?}", summary.problems);
    let with_file: i64 = sqlx::query_scalar("SELECT count(*) FROM record WHERE object_key IS NOT NULL")
        .fetch_one(app.pool())
        .await
        .unwrap();
    assert_eq!(summary.files, with_file as u64);
    assert!(with_file >= 6 && with_file < total, "seeded records with and without a file");
    let root = app.storage_dir.path().to_owned();
    let listed = check_export(
        app.pool(),
        &read(&dir, "manifest.jsonl"),
        &read(&dir, "manifest.csv"),
        &read(&dir, "media.tar"),
        |key| std::fs::read(root.join(key)).unwrap(),
    )
    .await;
    assert_eq!(listed.len() as i64, total);
    // Every record is there, oldest first; no partial files are left.
    let ids: Vec<String> = sqlx::query_scalar("SELECT uid::text FROM record ORDER BY created_at, uid")
        .fetch_all(app.pool())
        .await
        .unwrap();
    assert_eq!(listed, ids);
    let mut names: Vec<String> =
        std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    assert_eq!(names, ["manifest.csv", "manifest.jsonl", "media.tar"]);
    // Progress: from 0 to every recorded byte, ending with all records done.
    let (first, last) = (reports.first().unwrap(), reports.last().unwrap());
    assert_eq!(first.0, 0);
    assert_eq!((last.0, last.1), (summary.bytes, summary.bytes));
    assert_eq!(last.2, format!("{total} of {total} records"));
    // The same directory again is refused: nothing is overwritten.
    let storage = Storage::from_config(&app.config).unwrap();
    let again = exports::run(
        app.pool(),
        &storage,
        &Selection::default(),
        Output::Directory(dir.clone()),
        |_, _, _: &str| {},
        CancellationToken::new(),
    )
    .await;
    assert!(again.unwrap_err().to_string().contains("already exists"));
    // A storage name is one plain segment under exports/, never a path out of it.
    for name in ["../audio", "a/b", "", ".hidden"] {
        let refused = exports::run(
            app.pool(),
            &storage,
            &Selection::default(),
            Output::Storage { name: name.into() },
            |_, _, _: &str| {},
            CancellationToken::new(),
        )
        .await;
        assert!(refused.unwrap_err().to_string().contains("invalid export name"), "{name}");
    }
    assert_eq!(read(&dir, "media.tar").len() as u64 % 512, 0);
}

#[tokio::test]
async fn exports_dataset_filters_select_what_they_say() {
    let app = TestApp::spawn().await;
    seed(&app).await;
    sqlx::query("UPDATE record SET language = 'te' WHERE media_type IN ('audio', 'image')")
        .execute(app.pool())
        .await
        .unwrap();
    // One record a year ago, for the date range.
    sqlx::query(
        "UPDATE record SET created_at = now() - interval '365 days' WHERE uid = \
         (SELECT uid FROM record WHERE media_type = 'video' LIMIT 1)",
    )
    .execute(app.pool())
    .await
    .unwrap();
    let pool = app.pool().clone();
    let ids = |sql: &'static str| {
        let pool = pool.clone();
        async move {
            let mut ids: Vec<String> = sqlx::query_scalar(sql).fetch_all(&pool).await.unwrap();
            ids.sort();
            ids
        }
    };
    let app = &app;
    let exported = |selection: Selection| async move {
        let out = tempfile::tempdir().unwrap();
        let (summary, _) = export(app, &selection, Output::Directory(out.path().join("x"))).await;
        let mut got: Vec<String> = jsonl(&read(&out.path().join("x"), "manifest.jsonl"))
            .iter()
            .map(|r| r["id"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(summary.records as usize, got.len());
        got.sort();
        got
    };
    let audio =
        exported(Selection { media_types: vec![corpus_te::domain::MediaType::Audio], ..Default::default() }).await;
    assert_eq!(audio, ids("SELECT uid::text FROM record WHERE media_type = 'audio'").await);
    assert_eq!(audio.len(), 2);
    let approved = exported(Selection { review_states: vec!["approved".into()], ..Default::default() }).await;
    assert_eq!(approved, ids("SELECT uid::text FROM record WHERE reviewed AND review_status = 'approved'").await);
    assert_eq!(approved.len(), 1);
    let unreviewed = exported(Selection { review_states: vec!["unreviewed".into()], ..Default::default() }).await;
    assert_eq!(unreviewed, ids("SELECT uid::text FROM record WHERE NOT reviewed").await);
    let fables = exported(Selection { categories: vec!["fables".into()], ..Default::default() }).await;
    assert_eq!(
        fables,
        ids("SELECT r.uid::text FROM record r JOIN category c ON c.id = r.category_id WHERE c.name = 'fables'").await
    );
    let music_id: String =
        sqlx::query_scalar("SELECT id::text FROM category WHERE name = 'music'").fetch_one(app.pool()).await.unwrap();
    let music = exported(Selection { categories: vec![music_id], ..Default::default() }).await;
    assert_eq!(
        music,
        ids("SELECT r.uid::text FROM record r JOIN category c ON c.id = r.category_id WHERE c.name = 'music'").await
    );
    let telugu = exported(Selection { languages: vec!["te".into()], ..Default::default() }).await;
    assert_eq!(telugu, ids("SELECT uid::text FROM record WHERE language = 'te'").await);
    // The uploads are at (17.4, 78.5); the typed record at (17.385, 78.4867) is outside this box,
    // and the box's edge is included.
    let boxed = exported(Selection { bbox: Some([78.49, 17.39, 78.5, 17.5]), ..Default::default() }).await;
    assert_eq!(boxed, ids("SELECT uid::text FROM record WHERE ST_Y(location) = 17.4 AND ST_X(location) = 78.5").await);
    assert!(!boxed.is_empty());
    let day = |d: i64| chrono::Utc::now() - chrono::Duration::days(d);
    let recent = exported(Selection { from: Some(day(30)), ..Default::default() }).await;
    assert_eq!(recent, ids("SELECT uid::text FROM record WHERE created_at >= now() - interval '30 days'").await);
    let old = exported(Selection { from: Some(day(400)), to: Some(day(300)), ..Default::default() }).await;
    assert_eq!(old.len(), 1);
    // Combined: audio in Telugu, approved.
    let both = exported(Selection {
        media_types: vec![corpus_te::domain::MediaType::Audio],
        review_states: vec!["approved".into()],
        languages: vec!["te".into()],
        ..Default::default()
    })
    .await;
    assert_eq!(both, approved);
    let none = exported(Selection { categories: vec!["no-such-category".into()], ..Default::default() }).await;
    assert!(none.is_empty());
}

#[tokio::test]
async fn exports_dataset_reports_damaged_objects_and_leaves_them_out_of_the_manifest() {
    let app = TestApp::spawn().await;
    seed(&app).await;
    let root = app.storage_dir.path().to_owned();
    let keyed: Vec<(String, String)> = sqlx::query_as(
        "SELECT uid::text, object_key FROM record WHERE object_key IS NOT NULL ORDER BY created_at, uid LIMIT 3",
    )
    .fetch_all(app.pool())
    .await
    .unwrap();
    // Same size, other bytes; one byte short; gone.
    let (flipped, truncated, missing) = (&keyed[0], &keyed[1], &keyed[2]);
    let mut bytes = std::fs::read(root.join(&flipped.1)).unwrap();
    bytes[0] ^= 0xff;
    std::fs::write(root.join(&flipped.1), &bytes).unwrap();
    let mut bytes = std::fs::read(root.join(&truncated.1)).unwrap();
    bytes.pop();
    std::fs::write(root.join(&truncated.1), &bytes).unwrap();
    std::fs::remove_file(root.join(&missing.1)).unwrap();

    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("x");
    let (summary, _) = export(&app, &Selection::default(), Output::Directory(dir.clone())).await;
    let problems: BTreeMap<String, &ProblemKind> =
        summary.problems.iter().map(|p| (p.record.to_string(), &p.kind)).collect();
    assert_eq!(problems.len(), 3, "{problems:?}");
    assert!(matches!(problems[&flipped.0], ProblemKind::HashMismatch { .. }));
    assert!(matches!(problems[&truncated.0], ProblemKind::SizeMismatch { .. }));
    assert!(matches!(problems[&missing.0], ProblemKind::Missing));
    let rows = jsonl(&read(&dir, "manifest.jsonl"));
    for (id, _) in [flipped, truncated, missing] {
        assert!(rows.iter().all(|r| r["id"] != id.as_str()), "{id} must not be listed");
    }
    let total: i64 = sqlx::query_scalar("SELECT count(*) FROM record").fetch_one(app.pool()).await.unwrap();
    assert_eq!(summary.records as i64, total - 3);
    // Whatever is listed is right; the damaged file that was already streamed is not listed.
    let entries = tar_entries(&read(&dir, "media.tar"));
    assert_eq!(entries.len(), rows.iter().filter(|r| r["path"].is_string()).count() + 1);
    for row in rows.iter().filter(|r| r["path"].is_string()) {
        assert_eq!(sha256(&entries[row["path"].as_str().unwrap()]), row["sha256"].as_str().unwrap());
    }
}

#[tokio::test]
async fn exports_dataset_cancelled_leaves_nothing_behind() {
    let app = TestApp::spawn().await;
    seed(&app).await;
    let storage = Storage::from_config(&app.config).unwrap();
    let out = tempfile::tempdir().unwrap();
    // Into a directory it creates, and into one that holds someone else's file.
    let created = out.path().join("new");
    let existing = out.path().join("existing");
    std::fs::create_dir(&existing).unwrap();
    std::fs::write(existing.join("notes.txt"), b"mine").unwrap();
    for dir in [&created, &existing] {
        let cancel = CancellationToken::new();
        let token = cancel.clone();
        let err = exports::run(
            app.pool(),
            &storage,
            &Selection::default(),
            Output::Directory(dir.clone()),
            // Cancelled from the first progress report, as a job's revoke would.
            move |_, _, _: &str| token.cancel(),
            cancel,
        )
        .await
        .unwrap_err();
        assert!(err.is::<Cancelled>(), "{err:#}");
    }
    assert!(!created.exists(), "the directory the export created is removed");
    let left: Vec<String> =
        std::fs::read_dir(&existing).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert_eq!(left, ["notes.txt"]);
    // Into storage: no object under exports/ remains.
    let cancel = CancellationToken::new();
    cancel.cancel();
    let err =
        exports::run(app.pool(), &storage, &Selection::default(), Output::new_storage(), |_, _, _: &str| {}, cancel)
            .await
            .unwrap_err();
    assert!(err.is::<Cancelled>());
    let exports_dir = app.storage_dir.path().join("exports");
    let leftovers: Vec<_> = walkdir(&exports_dir);
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

/// Every file under `dir` (none when it does not exist).
pub fn walkdir(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() { out.extend(walkdir(&path)) } else { out.push(path) }
    }
    out
}

// Multi-threaded: the binary runs while this test waits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exports_dataset_runs_from_the_command_line() {
    let app = TestApp::spawn().await;
    seed(&app).await;
    let storage_dir = app.storage_dir.path();
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("audio-export");
    let run = cli::run(
        &app.db.url,
        storage_dir,
        &["export", "dataset", "--media-type", "audio", "--review-status", "approved", "--out", dir.to_str().unwrap()],
    );
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(run.stdout.contains("exported 1 record(s) of 1 selected"), "{}", run.stdout);
    let rows = jsonl(&read(&dir, "manifest.jsonl"));
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["media_type"], "audio");
    assert_eq!(rows[0]["review_status"], "approved");
    assert_eq!(tar_entries(&read(&dir, "media.tar")).len(), 1);

    // Everything, to the service's storage (local here) under exports/.
    let run = cli::run(&app.db.url, storage_dir, &["export", "dataset", "--out", "s3"]);
    assert_eq!(run.code, 0, "{}", run.all());
    let files = walkdir(&storage_dir.join("exports"));
    assert_eq!(files.len(), 3, "{files:?}");
    let export_dir = files[0].parent().unwrap().to_owned();
    assert!(run.stdout.contains(&export_dir.file_name().unwrap().to_string_lossy().into_owned()), "{}", run.stdout);
    let root = storage_dir.to_owned();
    check_export(
        app.pool(),
        &read(&export_dir, "manifest.jsonl"),
        &read(&export_dir, "manifest.csv"),
        &read(&export_dir, "media.tar"),
        |key| std::fs::read(root.join(key)).unwrap(),
    )
    .await;

    // Bad filters are refused before anything is written; a damaged object exits 1.
    let bad = cli::run(&app.db.url, storage_dir, &["export", "dataset", "--bbox", "80,17,79,18", "--out", "x"]);
    assert_ne!(bad.code, 0);
    assert!(bad.stderr.contains("bounding box"), "{}", bad.all());
    let key: String = sqlx::query_scalar("SELECT object_key FROM record WHERE media_type = 'image' LIMIT 1")
        .fetch_one(app.pool())
        .await
        .unwrap();
    std::fs::remove_file(storage_dir.join(&key)).unwrap();
    let damaged = out.path().join("damaged");
    let run = cli::run(&app.db.url, storage_dir, &["export", "dataset", "--out", damaged.to_str().unwrap()]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(run.stdout.contains(&format!("PROBLEM MISSING {key}")), "{}", run.stdout);
    assert!(damaged.join("manifest.jsonl").exists());
}
