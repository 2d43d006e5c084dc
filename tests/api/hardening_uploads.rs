//! Uploads under hostile or unlucky conditions: forms built to amplify memory (with and without
//! Content-Length), 422 answers that must not echo them back, a chunked finalise that fails or
//! dies half-way, spool files left behind by `kill -9`, a full spool disk, and per-user caps.

use std::{
    path::{Path, PathBuf},
    process::{Child, Stdio},
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant, SystemTime},
};

use corpus_te::{jobs::maintenance, state::AppState};
use futures::StreamExt;
use serde_json::Value;
use sqlx::{Connection, PgConnection};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use uuid::Uuid;

use crate::{
    helpers::{TEST_SECRET, TestApp, accounts::TestUser, cli::corpus, options_for, send},
    records_crud::category,
    records_upload::{chunk, fixture, multipart, record_count, stored_files, upload},
};

const BOUNDARY: &str = "hostile-form-boundary";
const KIB: usize = 1024;

/// What the server answered to a body sent with chunked transfer encoding, and how many body
/// bytes had been written by then.
struct RawAnswer {
    status: u16,
    body: String,
    sent: u64,
}

/// POSTs `path` with `Transfer-Encoding: chunked` and no Content-Length, writing the pieces of
/// `body` until the body ends or the server has answered.
async fn post_chunked(
    app: &TestApp,
    path: &str,
    user: &TestUser,
    content_type: &str,
    body: impl Iterator<Item = Vec<u8>> + Send + 'static,
) -> RawAnswer {
    let stream = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    let (mut rd, mut wr) = stream.into_split();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: {}\r\nContent-Type: {content_type}\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
        app.addr,
        user.bearer()
    );
    let (answered, sent) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicU64::new(0)));
    let writer = {
        let (answered, sent) = (answered.clone(), sent.clone());
        tokio::spawn(async move {
            if wr.write_all(head.as_bytes()).await.is_err() {
                return;
            }
            for piece in body {
                if answered.load(Ordering::SeqCst) {
                    return;
                }
                let frame = [format!("{:x}\r\n", piece.len()).into_bytes(), piece, b"\r\n".to_vec()].concat();
                if wr.write_all(&frame).await.is_err() {
                    return;
                }
                sent.fetch_add(frame.len() as u64, Ordering::SeqCst);
            }
            let _ = wr.write_all(b"0\r\n\r\n").await;
        })
    };
    // Read the answer as it arrives (the server may close the connection with body unread).
    let mut response = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    let (status, body) = loop {
        assert!(Instant::now() < deadline, "no answer");
        if let Some(end) = response.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&response[..end]).to_ascii_lowercase();
            let status: u16 = head[9..12].parse().unwrap();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .map(|v| v.trim().parse().unwrap())
                .unwrap_or(0);
            if response.len() >= end + 4 + length {
                break (status, String::from_utf8_lossy(&response[end + 4..end + 4 + length]).into_owned());
            }
        }
        let mut buf = [0u8; 16 * 1024];
        match tokio::time::timeout(Duration::from_secs(60), rd.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => panic!("connection closed before a whole answer: {response:?}"),
            Ok(Ok(n)) => response.extend_from_slice(&buf[..n]),
            Err(_) => panic!("no answer within 60 s"),
        }
    };
    answered.store(true, Ordering::SeqCst);
    writer.abort();
    RawAnswer { status, body, sent: sent.load(Ordering::SeqCst) }
}

/// One text part of `len` bytes.
fn text_part(name: &str, len: usize) -> Vec<u8> {
    let mut part = format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n").into_bytes();
    part.resize(part.len() + len, b'a');
    part.extend_from_slice(b"\r\n");
    part
}

fn multipart_type() -> String {
    format!("multipart/form-data; boundary={BOUNDARY}")
}

#[tokio::test]
async fn a_hostile_form_of_many_large_text_parts_is_refused_early_without_content_length() {
    let app = TestApp::spawn().await;
    let user = app.contributor().await;
    // 128 MiB of 256 KiB text parts, sent chunked (no Content-Length to check up front); the
    // shape of a form that once cost the server nine times its size in memory.
    let parts = 512;
    let total = (parts * (256 * KIB + 64)) as u64;
    let body = (0..parts).map(|i| text_part(&format!("field{i}"), 256 * KIB));
    let answer = post_chunked(&app, "/api/v1/records/upload", &user, &multipart_type(), body).await;
    assert_eq!(answer.status, 413, "{}", answer.body);
    assert!(answer.body.contains("Form fields too large"), "{}", answer.body);
    assert!(answer.sent < total / 2, "answered only after {} of {total} bytes", answer.sent);

    // The same for chunks, and for a finalise sent form-urlencoded.
    let body = (0..parts).map(|i| text_part(&format!("field{i}"), 256 * KIB));
    let answer = post_chunked(&app, "/api/v1/records/upload/chunk", &user, &multipart_type(), body).await;
    assert_eq!(answer.status, 413, "{}", answer.body);
    let body = (0..parts).map(|i| format!("f{i}={}&", "a".repeat(256 * KIB)).into_bytes());
    let answer = post_chunked(&app, "/api/v1/records/upload", &user, "application/x-www-form-urlencoded", body).await;
    assert_eq!(answer.status, 413, "{}", answer.body);
    assert!(answer.sent < total / 2);
}

#[tokio::test]
async fn part_headers_that_never_end_are_refused_early() {
    let app = TestApp::spawn().await;
    let user = app.contributor().await;
    // The parser keeps a part's headers whole until their blank line: 64 MiB of one header.
    let start = format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"title\"\r\nX-Pad: ").into_bytes();
    let total = 64 * 1024 * KIB;
    let body = std::iter::once(start).chain((0..total / (256 * KIB)).map(|_| vec![b'p'; 256 * KIB]));
    let answer = post_chunked(&app, "/api/v1/records/upload", &user, &multipart_type(), body).await;
    assert_eq!(answer.status, 413, "{}", answer.body);
    assert!(answer.body.contains("headers are too large"), "{}", answer.body);
    assert!(answer.sent < total as u64 / 2, "answered only after {} bytes", answer.sent);
}

#[tokio::test]
async fn form_fields_are_bounded_in_number_and_total_size() {
    let app = TestApp::spawn().await;
    let user = app.contributor().await;
    let cat = category(&app, "images").await.to_string();
    let png = fixture("pic.png");
    let base = [("title", "t"), ("category_id", cat.as_str()), ("media_type", "image")];

    let many: Vec<(String, String)> = (0..100).map(|i| (format!("extra{i}"), "x".into())).collect();
    let mut fields: Vec<(&str, &str)> = base.to_vec();
    fields.extend(many.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let (status, body) = upload(&app, &user, &fields, Some(("file", "p.png", &png))).await;
    assert_eq!(status, 413, "{body}");
    assert!(body["detail"].as_str().unwrap().contains("Too many form fields"), "{body}");

    // Each under the per-field limit, together over the total.
    let big = "d".repeat(200 * KIB);
    let mut fields: Vec<(&str, &str)> = base.to_vec();
    fields.extend([("a", big.as_str()), ("b", big.as_str()), ("c", big.as_str())]);
    let (status, body) = upload(&app, &user, &fields, Some(("file", "p.png", &png))).await;
    assert_eq!(status, 413, "{body}");

    let form: Vec<(String, String)> = (0..100).map(|i| (format!("f{i}"), "x".into())).collect();
    let (status, _) = send(app.post("/api/v1/records/upload").header("Authorization", user.bearer()).form(&form)).await;
    assert_eq!(status, 413);

    // A legitimate form still works.
    let (status, body) = upload(&app, &user, &base, Some(("file", "p.png", &png))).await;
    assert_eq!(status, 201, "{body}");
}

#[tokio::test]
async fn validation_errors_echo_only_a_short_prefix_of_the_input() {
    let app = TestApp::spawn().await;
    let user = app.contributor().await;
    let cat = category(&app, "images").await.to_string();
    let png = fixture("pic.png");
    let long_title = "ప".repeat(60 * KIB);
    let (status, body) = upload(
        &app,
        &user,
        &[("title", &long_title), ("category_id", &cat), ("media_type", "image")],
        Some(("file", "p.png", &png)),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    let echoed = body["errors"][0]["input"].as_str().unwrap();
    assert!(echoed.starts_with("పపప") && echoed.ends_with('…') && echoed.chars().count() < 100, "{echoed}");
    assert!(body.to_string().len() < 2 * KIB, "{} bytes", body.to_string().len());

    // A missing field echoes (the start of) the form, not the whole of it.
    let big = "m".repeat(200 * KIB);
    let (status, body) = upload(
        &app,
        &user,
        &[("description", &big), ("metadata", &big), ("category_id", &cat), ("media_type", "image")],
        Some(("file", "p.png", &png)),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["errors"][0]["type"], "missing");
    assert!(body.to_string().len() < 4 * KIB, "{} bytes", body.to_string().len());

    let (status, body) = send(app.post("/api/v1/records/upload").header("Authorization", user.bearer()).form(&[
        ("title", "t"),
        ("category_id", &cat),
        ("media_type", "image"),
        ("metadata", &big),
    ]))
    .await;
    assert_eq!(status, 422, "{body}");
    assert!(body.to_string().len() < 2 * KIB, "{} bytes", body.to_string().len());
    assert_eq!(record_count(&app).await, 0);
}

/// A complete two-chunk upload of `tone.ogg`, and the form that finalises it.
async fn complete_upload(app: &TestApp, user: &TestUser) -> (Uuid, Vec<(&'static str, String)>) {
    let cat = category(app, &format!("c{}", Uuid::new_v4().simple())).await.to_string();
    let bytes = fixture("tone.ogg");
    let id = Uuid::new_v4();
    let half = bytes.len() / 2;
    for (i, part) in [&bytes[..half], &bytes[half..]].into_iter().enumerate() {
        let (status, body) = chunk(app, user, id, i, 2, part).await;
        assert_eq!(status, 200, "{body}");
    }
    let form = vec![
        ("title", "పాట".to_owned()),
        ("category_id", cat),
        ("media_type", "audio".to_owned()),
        ("upload_uuid", id.to_string()),
        ("filename", "tone.ogg".to_owned()),
        ("total_chunks", "2".to_owned()),
    ];
    (id, form)
}

async fn finalise(app: &TestApp, user: &TestUser, form: &[(&str, String)]) -> (u16, Value) {
    send(app.post("/api/v1/records/upload").header("Authorization", user.bearer()).form(form)).await
}

/// Stored objects that are records' files (not chunks).
fn record_objects(app: &TestApp) -> Vec<PathBuf> {
    let chunks = app.storage_dir.path().join("uploads");
    stored_files(app).into_iter().filter(|p| !p.starts_with(&chunks)).collect()
}

#[tokio::test]
async fn a_finalise_that_fails_after_storing_its_object_leaves_nothing_and_a_retry_makes_one_record() {
    let app = TestApp::spawn().await;
    let user = app.contributor().await;
    let (id, form) = complete_upload(&app, &user).await;
    // Fail the first record insert (after the object is stored), then the first commit (after
    // the record insert and the session update succeeded).
    sqlx::raw_sql(
        "CREATE SEQUENCE test_insert_attempt; CREATE SEQUENCE test_commit_attempt;
         CREATE FUNCTION test_fail_insert() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN IF nextval('test_insert_attempt') = 1 THEN RAISE EXCEPTION 'injected insert failure'; END IF;
               RETURN NEW; END $$;
         CREATE TRIGGER test_fail_insert BEFORE INSERT ON record FOR EACH ROW EXECUTE FUNCTION test_fail_insert();
         CREATE FUNCTION test_fail_commit() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN IF nextval('test_commit_attempt') = 1 THEN RAISE EXCEPTION 'injected commit failure'; END IF;
               RETURN NULL; END $$;
         CREATE CONSTRAINT TRIGGER test_fail_commit AFTER UPDATE ON upload_session
             DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (NEW.record_uid IS NOT NULL)
             EXECUTE FUNCTION test_fail_commit();",
    )
    .execute(app.pool())
    .await
    .unwrap();
    for failure in ["insert", "commit"] {
        let (status, body) = finalise(&app, &user, &form).await;
        assert_eq!(status, 500, "{failure}: {body}");
        assert_eq!(record_count(&app).await, 0, "{failure}");
        assert!(record_objects(&app).is_empty(), "{failure}: {:?}", record_objects(&app));
        let (status, st) =
            send(app.get(&format!("/api/v1/records/upload/{id}/status")).header("Authorization", user.bearer())).await;
        assert_eq!((status, &st["complete"], &st["record_uid"]), (200, &Value::Bool(true), &Value::Null), "{st}");
    }
    let (status, first) = finalise(&app, &user, &form).await;
    assert_eq!(status, 201, "{first}");
    // A retry after success answers with the same record, never a second one.
    let (status, again) = finalise(&app, &user, &form).await;
    assert_eq!((status, &again["uid"]), (201, &first["uid"]));
    assert_eq!(record_count(&app).await, 1);
    assert_eq!(record_objects(&app).len(), 1);
    let noted: Option<String> =
        sqlx::query_scalar("SELECT finalise_object_key FROM upload_session").fetch_one(app.pool()).await.unwrap();
    assert_eq!(noted, None);
}

fn upload_lock_sql(function: &str) -> String {
    format!("SELECT {function}(hashtextextended('corpus-te/upload/' || $1::text, 0))")
}

#[tokio::test]
async fn a_finalise_is_refused_only_while_another_is_alive_and_concurrent_ones_make_one_record() {
    let app = TestApp::spawn().await;
    let user = app.contributor().await;
    let (id, form) = complete_upload(&app, &user).await;
    // Another finalise, alive: it holds the upload's lock on its connection.
    let mut other = PgConnection::connect_with(&options_for(&app.db.name)).await.unwrap();
    sqlx::query(&upload_lock_sql("pg_advisory_lock")).bind(id).execute(&mut other).await.unwrap();
    let (status, body) = finalise(&app, &user, &form).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["detail"], "This upload is already being finalised");
    // Its process dies: the connection goes, and so does the lock, at once.
    drop(other);
    let deadline = Instant::now() + Duration::from_secs(10);
    let (status, first) = loop {
        let (status, body) = finalise(&app, &user, &form).await;
        if status != 409 || Instant::now() > deadline {
            break (status, body);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(status, 201, "{first}");

    // Two finalises of another upload at once: one record, and every success names it.
    let (_, form) = complete_upload(&app, &user).await;
    let (a, b) = tokio::join!(finalise(&app, &user, &form), finalise(&app, &user, &form));
    let created: Vec<&Value> = [&a, &b].iter().filter(|(s, _)| *s == 201).map(|(_, body)| &body["uid"]).collect();
    assert!(!created.is_empty(), "{a:?} {b:?}");
    assert!([a.0, b.0].iter().all(|s| *s == 201 || *s == 409), "{a:?} {b:?}");
    assert!(created.iter().all(|uid| *uid == created[0]));
    assert_eq!(record_count(&app).await, 2);
    assert_eq!(record_objects(&app).len(), 2);
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The real `corpus serve` binary on a test app's database and storage.
struct Binary {
    child: Child,
    base: String,
}

impl Binary {
    async fn start(app: &TestApp, extra: &[(&str, &str)]) -> Self {
        let port = free_port();
        let mut cmd = corpus(&app.db.url, app.storage_dir.path());
        cmd.env("CORPUS_BIND", format!("127.0.0.1:{port}")).env("APP_SECRET_KEY", TEST_SECRET).arg("serve");
        for (k, v) in extra {
            cmd.env(k, v);
        }
        let mut child = cmd.stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
        let base = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        loop {
            if let Ok(r) = reqwest::get(format!("{base}/health")).await
                && r.status() == 200
            {
                break;
            }
            assert!(child.try_wait().unwrap().is_none(), "the server exited early");
            assert!(started.elapsed() < Duration::from_secs(60), "the server did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Self { child, base }
    }

    /// `kill -9`, and wait until the process is gone.
    fn kill(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Binary {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn wait_for<T>(what: &str, mut check: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_finalise_killed_half_way_is_taken_over_at_once_and_its_object_removed() {
    let app = TestApp::spawn().await;
    let user = app.contributor().await;
    let (_, form) = complete_upload(&app, &user).await;
    // The first record insert waits a moment: long enough to kill the server in the middle of
    // its finalise, after the object is stored.
    sqlx::raw_sql(
        "CREATE SEQUENCE test_insert_attempt;
         CREATE FUNCTION test_slow_insert() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN IF nextval('test_insert_attempt') = 1 THEN PERFORM pg_sleep(3); END IF; RETURN NEW; END $$;
         CREATE TRIGGER test_slow_insert BEFORE INSERT ON record FOR EACH ROW EXECUTE FUNCTION test_slow_insert();",
    )
    .execute(app.pool())
    .await
    .unwrap();
    let mut server = Binary::start(&app, &[]).await;
    let request = reqwest::Client::new()
        .post(format!("{}/api/v1/records/upload", server.base))
        .header("Authorization", user.bearer())
        .form(&form)
        .send();
    let in_flight = tokio::spawn(request);
    let pool = app.pool().clone();
    wait_for("the finalise to reach its record insert", async || {
        let sleeping: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event = 'PgSleep'",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        (sleeping == 1).then_some(())
    })
    .await;
    let noted: Option<String> =
        sqlx::query_scalar("SELECT finalise_object_key FROM upload_session").fetch_one(app.pool()).await.unwrap();
    let dead_object = app.storage_dir.path().join(noted.expect("the object key is noted before it is stored"));
    assert!(dead_object.exists(), "the dying finalise stored its object");
    server.kill();
    let _ = in_flight.await;

    // A retry is taken over as soon as PostgreSQL has noticed the dead connection (seconds, not
    // the old 30 minutes), removes the dead finalise's object, and makes one record.
    let deadline = Instant::now() + Duration::from_secs(30);
    let (status, record) = loop {
        let (status, body) = finalise(&app, &user, &form).await;
        if status != 409 || Instant::now() > deadline {
            break (status, body);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(status, 201, "{record}");
    assert!(!dead_object.exists());
    assert_eq!(record_count(&app).await, 1);
    assert_eq!(record_objects(&app).len(), 1, "{:?}", record_objects(&app));
}

/// A direct upload whose file part starts and then stalls (never ends), so its spool file stays.
fn stalled_upload(base: &str, user: &TestUser, cat: &str) -> tokio::task::JoinHandle<()> {
    let (ct, mut body) = multipart(&[("title", "t"), ("category_id", cat), ("media_type", "audio")], None);
    body.truncate(body.len() - format!("--{}--\r\n", ct.rsplit('=').next().unwrap()).len());
    let boundary = ct.rsplit('=').next().unwrap().to_owned();
    body.extend(
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.wav\"\r\n\r\n").as_bytes(),
    );
    body.extend(fixture("tone.wav"));
    body.resize(body.len() + 1024 * KIB, 0);
    let stream = futures::stream::iter([Ok::<_, std::io::Error>(body)]).chain(futures::stream::pending());
    let request = reqwest::Client::new()
        .post(format!("{base}/api/v1/records/upload"))
        .header("Authorization", user.bearer())
        .header("Content-Type", ct)
        .body(reqwest::Body::wrap_stream(stream))
        .send();
    tokio::spawn(async move {
        let _ = request.await;
    })
}

/// The spool files (our prefix) in `dir` holding at least 1 MiB.
fn spool_files(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("corpus-upload-"))
        .filter(|e| e.metadata().map(|m| m.len() >= 1024 * 1024).unwrap_or(false))
        .map(|e| e.path())
        .collect()
}

fn make_old(path: &Path) {
    std::fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(SystemTime::now() - Duration::from_secs(3600))
        .unwrap();
}

#[tokio::test]
async fn spool_files_left_by_a_killed_server_are_removed_at_its_next_start_and_nothing_else() {
    let app = TestApp::spawn().await;
    let user = app.contributor().await;
    let cat = category(&app, "music").await.to_string();
    let spool = tempfile::tempdir().unwrap();
    // Files of other programs in a shared temp dir, old ones included, are never touched.
    let foreign = [spool.path().join("someone-elses-file"), spool.path().join("corpus-upload.not-ours")];
    for path in &foreign {
        std::fs::write(path, b"keep me").unwrap();
        make_old(path);
    }
    let dir = spool.path().to_str().unwrap();
    let env = [("UPLOAD_TMP_DIR", dir), ("UPLOAD_CLEANUP_INTERVAL_SECONDS", "0")];
    let mut server = Binary::start(&app, &env).await;
    let client = stalled_upload(&server.base, &user, &cat);
    let left = wait_for("a spool file", async || {
        let files = spool_files(spool.path());
        (!files.is_empty()).then_some(files)
    })
    .await;
    server.kill();
    client.abort();
    assert!(left.iter().all(|p| p.exists()), "kill -9 leaves the spool file behind");
    // Wait until it is past the age under which a spool file is never swept.
    tokio::time::sleep(Duration::from_millis(2500)).await;

    // The next start removes it, even with the periodic sweep turned off.
    let _server = Binary::start(&app, &env).await;
    wait_for("the stale spool file to go", async || left.iter().all(|p| !p.exists()).then_some(())).await;
    assert!(foreign.iter().all(|p| p.exists()));
}

#[tokio::test]
async fn the_sweep_of_another_replica_leaves_spool_files_in_use_alone() {
    let spool = tempfile::tempdir().unwrap();
    let dir = spool.path().to_owned();
    let app = TestApp::spawn_with(move |c| c.uploads.upload_tmp_dir = Some(dir)).await;
    let user = app.contributor().await;
    let cat = category(&app, "music").await.to_string();
    let client = stalled_upload(&app.base, &user, &cat);
    let in_use = wait_for("a spool file", async || spool_files(spool.path()).into_iter().next()).await;
    // Even old-looking, a spool file whose upload is alive (its lock held) stays.
    make_old(&in_use);
    let replica = AppState::new(app.config.clone(), app.pool().clone()).unwrap();
    let report = maintenance::sweep(&replica).await.unwrap().expect("no other sweep is running");
    assert_eq!(report.spool_files, 0);
    assert!(in_use.exists());
    // The client goes away: the spool file goes with its request.
    client.abort();
    wait_for("the spool file of an aborted upload to go", async || (!in_use.exists()).then_some(())).await;
}

/// A small tmpfs mounted for the test, unmounted when dropped.
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    fn mount(size: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let status = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs", dir.path().to_str().unwrap()])
            .status()
            .unwrap();
        assert!(status.success(), "mounting a small tmpfs (the tests run as root, as on CI)");
        Self { dir }
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(self.dir.path()).status();
    }
}

#[tokio::test]
async fn a_full_spool_disk_answers_503_and_keeps_nothing() {
    let disk = SmallDisk::mount("256k");
    let dir = disk.dir.path().to_owned();
    let app = TestApp::spawn_with(move |c| c.uploads.upload_tmp_dir = Some(dir)).await;
    let user = app.contributor().await;
    let cat = category(&app, "music").await.to_string();
    let mut wav = fixture("tone.wav");
    wav.resize(2 * 1024 * KIB, 0);
    let (status, body) = upload(
        &app,
        &user,
        &[("title", "t"), ("category_id", &cat), ("media_type", "audio")],
        Some(("file", "a.wav", &wav)),
    )
    .await;
    assert_eq!(status, 503, "{body}");
    assert!(body["detail"].as_str().unwrap().contains("out of temporary space"), "{body}");
    assert_eq!(record_count(&app).await, 0);
    assert_eq!(std::fs::read_dir(disk.dir.path()).unwrap().count(), 0, "the partial spool file is gone");
    // The small file still fits.
    let (status, body) = upload(
        &app,
        &user,
        &[("title", "t"), ("category_id", &cat), ("media_type", "audio")],
        Some(("file", "a.ogg", &fixture("tone.ogg"))),
    )
    .await;
    assert_eq!(status, 201, "{body}");
}

#[tokio::test]
async fn a_user_may_hold_only_so_many_unfinished_uploads_and_bytes() {
    let app = TestApp::spawn_with(|c| {
        c.uploads.upload_max_open_per_user = 2;
        c.uploads.upload_max_pending_bytes_per_user = Some(20_000);
    })
    .await;
    let (user, other) = (app.contributor().await, app.contributor().await);
    let png = fixture("pic.png");
    let (a, b, c) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    for id in [a, b] {
        let (status, body) = chunk(&app, &user, id, 0, 2, &png).await;
        assert_eq!(status, 200, "{body}");
    }
    let (status, body) = chunk(&app, &user, c, 0, 1, &png).await;
    assert_eq!(status, 429, "{body}");
    assert!(body["detail"].as_str().unwrap().contains("Too many unfinished uploads"), "{body}");
    // Uploads already open go on; other users are not affected.
    let (status, _) = chunk(&app, &user, a, 1, 2, &[0u8; 10_000]).await;
    assert_eq!(status, 200);
    let (status, _) = chunk(&app, &other, c, 0, 1, &png).await;
    assert_eq!(status, 200);

    // Bytes: 10 189 + 189 held; 9 000 more would pass 20 000.
    let (status, body) = chunk(&app, &user, b, 1, 2, &[1u8; 9_800]).await;
    assert_eq!(status, 429, "{body}");
    assert!(body["detail"].as_str().unwrap().contains("Too much unfinished upload data"), "{body}");
    // A chunk sent again replaces the old one: it is not counted twice.
    let (status, body) = chunk(&app, &user, a, 1, 2, &[2u8; 10_000]).await;
    assert_eq!(status, 200, "{body}");
    let (status, _) = chunk(&app, &user, b, 1, 2, &[1u8; 9_000]).await;
    assert_eq!(status, 200);

    // A finished upload no longer counts.
    let cat = category(&app, "images").await.to_string();
    let d = Uuid::new_v4();
    sqlx::query("DELETE FROM upload_session WHERE upload_uuid = $1").bind(b).execute(app.pool()).await.unwrap();
    let (status, _) = chunk(&app, &user, d, 0, 1, &png).await;
    assert_eq!(status, 200);
    let (status, rec) = send(app.post("/api/v1/records/upload").header("Authorization", user.bearer()).form(&[
        ("title", "t"),
        ("category_id", cat.as_str()),
        ("media_type", "image"),
        ("upload_uuid", &d.to_string()),
        ("filename", "p.png"),
    ]))
    .await;
    assert_eq!(status, 201, "{rec}");
    let (status, body) = chunk(&app, &user, Uuid::new_v4(), 0, 1, &png).await;
    assert_eq!(status, 200, "{body}");
}
