//! Uploads over HTTP against the local backend and a real S3 server (s3s-fs in-process): direct
//! uploads with media facts, type and size enforcement, resumable chunked uploads (out of order,
//! repeated, interrupted), cleanup of abandoned uploads, downloads and storage failures.

use std::{net::SocketAddr, path::PathBuf};

use corpus_te::{config::StorageBackend, state::AppState};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::{
    helpers::{TestApp, accounts::TestUser, send},
    records_crud::category,
};

pub fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/media").join(name)).unwrap()
}

/// A multipart body built by hand, with file names sent as raw UTF-8 (as browsers and
/// python-requests do).
pub fn multipart(fields: &[(&str, &str)], file: Option<(&str, &str, &[u8])>) -> (String, Vec<u8>) {
    let boundary = format!("----corpus{}", Uuid::new_v4().simple());
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").as_bytes(),
        );
    }
    if let Some((field, filename, bytes)) = file {
        body.extend(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{filename}\"\r\nContent-Type: application/octet-stream\r\n\r\n")
                .as_bytes(),
        );
        body.extend(bytes);
        body.extend(b"\r\n");
    }
    body.extend(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

pub async fn upload(
    app: &TestApp,
    user: &TestUser,
    fields: &[(&str, &str)],
    file: Option<(&str, &str, &[u8])>,
) -> (u16, Value) {
    let (ct, body) = multipart(fields, file);
    send(
        app.post("/api/v1/records/upload").header("Authorization", user.bearer()).header("Content-Type", ct).body(body),
    )
    .await
}

pub async fn record_count(app: &TestApp) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM record").fetch_one(app.pool()).await.unwrap()
}

pub fn stored_files(app: &TestApp) -> Vec<PathBuf> {
    fn walk(dir: &std::path::Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() { walk(&path, out) } else { out.push(path) }
        }
    }
    let mut out = Vec::new();
    walk(app.storage_dir.path(), &mut out);
    out
}

async fn download(app: &TestApp, user: &TestUser, uid: &str) -> Vec<u8> {
    let response =
        app.get(&format!("/api/v1/records/{uid}/file")).header("Authorization", user.bearer()).send().await.unwrap();
    assert_eq!(response.status(), 200);
    response.bytes().await.unwrap().to_vec()
}

#[tokio::test]
async fn record_upload_direct_media_facts_and_telugu_names() {
    let app = TestApp::spawn().await;
    let user = app.contributor().await;
    let cat = category(&app, "music").await.to_string();
    let uid_str = user.id.to_string();
    for (fixture_name, client_name, media, duration, mime) in [
        ("tone.wav", "పాట.wav", "audio", Some(4), "audio/"),
        ("cbr.mp3", "song.MP3", "audio", Some(3), "audio/mpeg"),
        ("tone.flac", "tone.flac", "audio", Some(3), "audio/"),
        ("clip.mp4", "clip.mp4", "video", Some(2), "video/mp4"),
        ("clip.webm", "clip.webm", "video", Some(4), "video/webm"),
        ("pic.png", "చిత్రం.png", "image", None, "image/png"),
        ("telugu.txt", "కథ.txt", "text", None, "text/plain"),
    ] {
        let bytes = fixture(fixture_name);
        let (status, rec) = upload(
            &app,
            &user,
            &[
                ("title", "పాట"),
                ("category_id", &cat),
                ("user_id", &uid_str),
                ("media_type", media),
                ("latitude", "17.385"),
                ("longitude", "78.4867"),
                ("language", "te"),
                ("release_rights", "creator"),
                ("metadata", r#"{"app":"test"}"#),
            ],
            Some(("file", client_name, &bytes)),
        )
        .await;
        assert_eq!(status, 201, "{fixture_name}: {rec}");
        let uid = rec["uid"].as_str().unwrap();
        assert_eq!(rec["id"], rec["uid"]);
        assert_eq!(rec["status"], "uploaded");
        assert_eq!(rec["file_name"], client_name, "the original name is kept in the database");
        assert_eq!(rec["file_size"], bytes.len());
        assert_eq!(rec["duration_seconds"], json!(duration), "{fixture_name}");
        assert!(rec["mime_type"].as_str().unwrap().starts_with(mime), "{fixture_name}: {}", rec["mime_type"]);
        assert_eq!(rec["content_sha256"], hex::encode(Sha256::digest(&bytes)));
        assert_eq!(rec["location"], json!({"latitude": 17.385, "longitude": 78.4867}));
        assert_eq!((rec["language"].as_str(), rec["metadata"]["app"].as_str()), (Some("te"), Some("test")));
        let key: String = sqlx::query_scalar("SELECT object_key FROM record WHERE uid = $1::uuid")
            .bind(uid)
            .fetch_one(app.pool())
            .await
            .unwrap();
        assert!(key.starts_with(&format!("{media}/{uid}.")), "{key}");
        assert!(key.is_ascii(), "object keys never carry the client's name");
        assert_eq!(download(&app, &user, uid).await, bytes);
    }
    // use_uid_filename names the file after the record.
    let (status, rec) = upload(
        &app,
        &user,
        &[("title", "t"), ("category_id", &cat), ("media_type", "image"), ("use_uid_filename", "yes")],
        Some(("file", "x.png", &fixture("pic.png"))),
    )
    .await;
    assert_eq!(status, 201);
    assert_eq!(rec["file_name"], format!("{}.png", rec["uid"].as_str().unwrap()));
}

#[tokio::test]
async fn record_upload_refusals_leave_nothing_behind() {
    let app = TestApp::spawn_with(|c| c.uploads.max_file_size = 64 * 1024).await;
    let (user, other) = (app.contributor().await, app.contributor().await);
    let cat = category(&app, "images").await.to_string();
    let base = [("title", "t"), ("category_id", cat.as_str()), ("media_type", "image")];
    let png = fixture("pic.png");

    let (status, body) = upload(&app, &user, &base, Some(("file", "photo.exe", &fixture("fake.exe")))).await;
    assert_eq!(status, 415, "{body}");
    let (status, _) = upload(&app, &user, &base, Some(("file", "photo.jpg", &fixture("fake.exe")))).await;
    assert_eq!(status, 415);
    let (status, _) = upload(&app, &user, &base, Some(("file", "pic.png", &fixture("cbr.mp3")))).await;
    assert_eq!(status, 415, "audio bytes sent as image");
    let (status, body) = upload(&app, &user, &base, Some(("file", "empty.png", b""))).await;
    assert_eq!(status, 400, "{body}");
    let (status, _) = upload(&app, &user, &base, None).await;
    assert_eq!(status, 422, "no file and no upload_uuid");

    // Oversize: refused from the declared length, and while streaming when there is none.
    let big = vec![0x89u8; 3 * 1024 * 1024];
    let (status, body) = upload(&app, &user, &base, Some(("file", "big.png", &big))).await;
    assert_eq!(status, 413, "{body}");
    let (ct, mut body) = multipart(&base, Some(("file", "big.png", &png)));
    let tail = body.split_off(body.len() - 200);
    let stream = futures::stream::iter(
        std::iter::once(Ok::<_, std::io::Error>(body))
            .chain(std::iter::repeat_n(vec![0u8; 16 * 1024], 64).map(Ok))
            .chain(std::iter::once(Ok(tail))),
    );
    let response = app
        .post("/api/v1/records/upload")
        .header("Authorization", user.bearer())
        .header("Content-Type", ct)
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await;
    if let Ok(response) = response {
        assert_eq!(response.status(), 413);
    }

    // Field validation: coordinates, half pairs, ids, ownership, blank title.
    for (fields, expect) in [
        (vec![("latitude", "95"), ("longitude", "78")], 422),
        (vec![("latitude", "17.3")], 422),
        (vec![("latitude", "abc"), ("longitude", "78")], 422),
        (vec![("user_id", "not-a-uuid")], 400),
        (vec![("user_id", other.id.to_string().leak() as &str)], 403),
        (vec![("metadata", "{not json")], 422),
    ] {
        let mut all: Vec<(&str, &str)> = base.to_vec();
        all.extend(fields.iter().copied());
        let (status, body) = upload(&app, &user, &all, Some(("file", "pic.png", &png))).await;
        assert_eq!(status, expect, "{fields:?}: {body}");
    }
    let (status, body) = upload(
        &app,
        &user,
        &[("title", "t"), ("category_id", "nope"), ("media_type", "image")],
        Some(("file", "p.png", &png)),
    )
    .await;
    assert_eq!((status, body["detail"].as_str()), (400, Some("Invalid category ID format")));
    let (status, _) = upload(
        &app,
        &user,
        &[("title", " "), ("category_id", &cat), ("media_type", "image")],
        Some(("file", "p.png", &png)),
    )
    .await;
    assert_eq!(status, 422);

    assert_eq!(record_count(&app).await, 0);
    assert!(stored_files(&app).is_empty(), "{:?}", stored_files(&app));
    // Anonymous uploads: 403.
    let (ct, body) = multipart(&base, Some(("file", "p.png", &png)));
    let (status, _) = send(app.post("/api/v1/records/upload").header("Content-Type", ct).body(body)).await;
    assert_eq!(status, 403);
}

/// Sends one chunk; returns (status, body).
pub async fn chunk(
    app: &TestApp,
    user: &TestUser,
    upload_uuid: Uuid,
    index: usize,
    total: usize,
    bytes: &[u8],
) -> (u16, Value) {
    let (index, total, id) = (index.to_string(), total.to_string(), upload_uuid.to_string());
    let (ct, body) = multipart(
        &[("filename", "వీడియో.mp4"), ("chunk_index", &index), ("total_chunks", &total), ("upload_uuid", &id)],
        Some(("chunk", "blob", bytes)),
    );
    send(
        app.post("/api/v1/records/upload/chunk")
            .header("Authorization", user.bearer())
            .header("Content-Type", ct)
            .body(body),
    )
    .await
}

pub async fn chunked_upload_round_trip(app: &TestApp) {
    let (user, other) = (app.contributor().await, app.contributor().await);
    let cat = category(app, "video").await.to_string();
    let mut bytes = fixture("clip.mp4");
    bytes.extend(vec![0u8; 0]);
    let parts: Vec<&[u8]> = bytes.chunks(bytes.len() / 4 + 1).collect();
    let total = parts.len();
    assert_eq!(total, 4);
    let upload_uuid = Uuid::new_v4();

    // Out of order, with a repeat.
    for i in [2, 0, 2] {
        let (status, body) = chunk(app, &user, upload_uuid, i, total, parts[i]).await;
        assert_eq!(status, 200, "{body}");
    }
    // Another user can neither add to nor look at this upload: to them it does not exist.
    let (status, body) = chunk(app, &other, upload_uuid, 1, total, parts[1]).await;
    assert_eq!((status, body), (404, serde_json::json!({"detail": "Upload not found"})));
    let (status, _) =
        send(app.get(&format!("/api/v1/records/upload/{upload_uuid}/status")).header("Authorization", other.bearer()))
            .await;
    assert_eq!(status, 404);
    // A dropped connection in the middle of chunk 3: the server keeps nothing of it.
    let (ct, body) = multipart(
        &[("chunk_index", "3"), ("total_chunks", "4"), ("upload_uuid", &upload_uuid.to_string())],
        Some(("chunk", "blob", parts[3])),
    );
    let half = body[..body.len() - 40].to_vec();
    let stream = futures::stream::iter(vec![Ok(half), Err(std::io::Error::other("connection dropped"))]);
    let _ = app
        .post("/api/v1/records/upload/chunk")
        .header("Authorization", user.bearer())
        .header("Content-Type", ct)
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await;
    let (status, st) =
        send(app.get(&format!("/api/v1/records/upload/{upload_uuid}/status")).header("Authorization", user.bearer()))
            .await;
    assert_eq!(status, 200, "{st}");
    assert_eq!(st["received_chunks"], json!([0, 2]));
    assert_eq!(st["missing_chunks"], json!([1, 3]));
    assert_eq!(st["complete"], false);
    // Finalising too early names the missing chunks and keeps what is there.
    let form = [
        ("title", "వీడియో"),
        ("category_id", cat.as_str()),
        ("media_type", "video"),
        ("upload_uuid", &upload_uuid.to_string()),
        ("filename", "వీడియో.mp4"),
        ("total_chunks", "4"),
        ("language", "te"),
        ("release_rights", "open"),
        ("metadata", r#"{"chunked":true}"#),
        ("latitude", "17.4399"),
        ("longitude", "78.4983"),
    ];
    let (status, body) =
        send(app.post("/api/v1/records/upload").header("Authorization", user.bearer()).form(&form)).await;
    assert_eq!(status, 400, "{body}");
    // Resume: the missing chunks, out of order.
    for i in [3, 1] {
        let (status, body) = chunk(app, &user, upload_uuid, i, total, parts[i]).await;
        assert_eq!(status, 200, "{body}");
        if i == 1 {
            assert_eq!(body["complete"], true);
        }
    }
    // Finalise (form-urlencoded, as the clients send it).
    let (status, rec) =
        send(app.post("/api/v1/records/upload").header("Authorization", user.bearer()).form(&form)).await;
    assert_eq!(status, 201, "{rec}");
    assert_eq!(rec["file_size"], bytes.len());
    assert_eq!(rec["file_name"], "వీడియో.mp4");
    assert_eq!(rec["duration_seconds"], 2);
    assert_eq!(rec["content_sha256"], hex::encode(Sha256::digest(&bytes)));
    assert_eq!((rec["release_rights"].as_str(), rec["metadata"]["chunked"].as_bool()), (Some("open"), Some(true)));
    let uid = rec["uid"].as_str().unwrap().to_owned();
    assert_eq!(download(app, &user, &uid).await, bytes, "byte-identical");
    // A re-sent finalise answers with the same record.
    let (status, again) =
        send(app.post("/api/v1/records/upload").header("Authorization", user.bearer()).form(&form)).await;
    assert_eq!((status, again["uid"].as_str()), (201, Some(uid.as_str())));
    assert_eq!(record_count(app).await, 1);
    let leftover: i64 = sqlx::query_scalar("SELECT count(*) FROM upload_chunk").fetch_one(app.pool()).await.unwrap();
    assert_eq!(leftover, 0);
    // Ranged read of the assembled object.
    let response = app
        .get(&format!("/api/v1/records/{uid}/file"))
        .header("Authorization", user.bearer())
        .header("Range", "bytes=4-11")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 206);
    assert_eq!(response.bytes().await.unwrap().as_ref(), &bytes[4..12]);
    // Delete removes the object.
    let (status, _) = send(app.delete(&format!("/api/v1/records/{uid}")).header("Authorization", user.bearer())).await;
    assert_eq!(status, 200);
    let response =
        app.get(&format!("/api/v1/records/{uid}/file")).header("Authorization", user.bearer()).send().await.unwrap();
    assert_eq!(response.status(), 404);
}

#[tokio::test]
async fn record_upload_chunked_resumes_and_is_byte_identical_local() {
    let app = TestApp::spawn().await;
    chunked_upload_round_trip(&app).await;
    assert!(stored_files(&app).is_empty(), "chunks and object are gone: {:?}", stored_files(&app));
}

#[tokio::test]
async fn record_upload_single_chunk_multipart_finalise_and_cleanup() {
    let app = TestApp::spawn().await;
    let user = app.contributor().await;
    let cat = category(&app, "music").await.to_string();
    let bytes = fixture("tone.ogg");
    let id = Uuid::new_v4();
    let (status, _) = chunk(&app, &user, id, 0, 1, &bytes).await;
    assert_eq!(status, 200);
    // Multipart finalise without a file part; the chunk size limit counts the whole upload.
    let (status, rec) = upload(
        &app,
        &user,
        &[
            ("title", "t"),
            ("category_id", &cat),
            ("media_type", "audio"),
            ("upload_uuid", &id.to_string()),
            ("filename", "tone.ogg"),
            ("total_chunks", "1"),
        ],
        None,
    )
    .await;
    assert_eq!(status, 201, "{rec}");
    assert_eq!(rec["duration_seconds"], 3);

    // An abandoned upload is swept after its time; a fresh one is kept.
    let (old, fresh) = (Uuid::new_v4(), Uuid::new_v4());
    chunk(&app, &user, old, 0, 3, b"abc").await;
    chunk(&app, &user, fresh, 0, 3, b"abc").await;
    sqlx::query("UPDATE upload_session SET updated_at = now() - interval '2 days' WHERE upload_uuid = $1")
        .bind(old)
        .execute(app.pool())
        .await
        .unwrap();
    let state = AppState::new(app.config.clone(), app.pool().clone()).unwrap();
    let removed = corpus_te::jobs::maintenance::cleanup_abandoned_uploads(&state, std::time::Duration::from_secs(3600))
        .await
        .unwrap();
    assert!(removed >= 1);
    let left: Vec<Uuid> = sqlx::query_scalar("SELECT upload_uuid FROM upload_session WHERE record_uid IS NULL")
        .fetch_all(app.pool())
        .await
        .unwrap();
    assert_eq!(left, vec![fresh]);
    let chunk_objects = |id: Uuid| {
        let dir = app.storage_dir.path().join(format!("uploads/{id}"));
        stored_files(&app).into_iter().filter(|p| p.starts_with(&dir)).count()
    };
    assert_eq!(chunk_objects(old), 0);
    assert_eq!(chunk_objects(fresh), 1);
    let (status, _) =
        send(app.get(&format!("/api/v1/records/upload/{old}/status")).header("Authorization", user.bearer())).await;
    assert_eq!(status, 404);
    assert_eq!(record_count(&app).await, 1, "cleanup never touches records");
    // Chunk validation.
    let (status, _) = chunk(&app, &user, Uuid::new_v4(), 5, 3, b"abc").await;
    assert_eq!(status, 422);
    let (status, _) = chunk(&app, &user, fresh, 1, 4, b"abc").await;
    assert_eq!(status, 409, "total_chunks must not change");
}

/// An S3 server (s3s-fs over a temp dir) on a loopback port, with bucket `corpus-data`.
pub struct S3Server {
    pub addr: SocketAddr,
    pub root: tempfile::TempDir,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for S3Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub const S3_KEY: &str = "test-access-key";
pub const S3_SECRET: &str = "test-secret-key";

pub async fn spawn_s3() -> S3Server {
    use hyper_util::{
        rt::{TokioExecutor, TokioIo},
        server::conn::auto::Builder,
    };
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir(root.path().join("corpus-data")).unwrap();
    let fs = s3s_fs::FileSystem::new(root.path()).unwrap();
    let service = {
        let mut b = s3s::service::S3ServiceBuilder::new(fs);
        b.set_auth(s3s::auth::SimpleAuth::from_single(S3_KEY, S3_SECRET));
        b.build()
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        loop {
            let Ok((socket, _)) = listener.accept().await else { continue };
            let service = service.clone();
            tokio::spawn(async move {
                let _ = Builder::new(TokioExecutor::new()).serve_connection(TokioIo::new(socket), service).await;
            });
        }
    });
    S3Server { addr, root, task }
}

pub async fn spawn_on_s3(s3: &S3Server, secret: &str) -> TestApp {
    let endpoint = format!("http://{}", s3.addr);
    let secret = secret.to_owned();
    TestApp::spawn_with(move |c| {
        c.storage.storage_backend = Some(StorageBackend::S3);
        c.storage.hz_obj_endpoint = Some(endpoint);
        c.storage.hz_obj_access_key = Some(S3_KEY.into());
        c.storage.hz_obj_secret_key = Some(secret.into());
        c.storage.hz_obj_bucket_name = "corpus-data".into();
        c.storage.hz_obj_use_ssl = "false".into();
    })
    .await
}

fn s3_objects(s3: &S3Server) -> Vec<PathBuf> {
    fn walk(dir: &std::path::Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() { walk(&path, out) } else { out.push(path) }
        }
    }
    let mut out = Vec::new();
    walk(&s3.root.path().join("corpus-data"), &mut out);
    // s3s-fs keeps its own metadata files beside the objects.
    out.retain(|p| !p.to_string_lossy().contains(".s3s"));
    out
}

#[tokio::test]
async fn record_upload_on_s3_direct_chunked_download_delete() {
    let s3 = spawn_s3().await;
    let app = spawn_on_s3(&s3, S3_SECRET).await;
    let user = app.contributor().await;
    let cat = category(&app, "music").await.to_string();
    // Direct upload, larger than one multipart part so the multipart path is used.
    let mut big = fixture("tone.wav");
    let pad = 9 * 1024 * 1024;
    // A WAV with trailing bytes is still a WAV; the duration comes from its header.
    big.resize(big.len() + pad, 0);
    let (status, rec) = upload(
        &app,
        &user,
        &[("title", "పాట"), ("category_id", &cat), ("media_type", "audio")],
        Some(("file", "పాట.wav", &big)),
    )
    .await;
    assert_eq!(status, 201, "{rec}");
    let uid = rec["uid"].as_str().unwrap().to_owned();
    assert_eq!(rec["file_name"], "పాట.wav");
    assert!(s3.root.path().join(format!("corpus-data/audio/{uid}.wav")).exists());
    assert_eq!(download(&app, &user, &uid).await, big);
    let response = app
        .get(&format!("/api/v1/records/{uid}/file"))
        .header("Authorization", user.bearer())
        .header("Range", "bytes=-10")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 206);
    assert_eq!(response.bytes().await.unwrap().as_ref(), &big[big.len() - 10..]);
    let (status, _) = send(app.delete(&format!("/api/v1/records/{uid}")).header("Authorization", user.bearer())).await;
    assert_eq!(status, 200);
    assert!(!s3.root.path().join(format!("corpus-data/audio/{uid}.wav")).exists());
    // .exe as image is refused before anything reaches the bucket.
    let (status, _) = upload(
        &app,
        &user,
        &[("title", "t"), ("category_id", &cat), ("media_type", "image")],
        Some(("file", "x.png", &fixture("fake.exe"))),
    )
    .await;
    assert_eq!(status, 415);
    // Chunked round trip on S3.
    chunked_upload_round_trip(&app).await;
    assert!(s3_objects(&s3).is_empty(), "{:?}", s3_objects(&s3));
}

#[tokio::test]
async fn record_upload_storage_failure_leaves_no_record() {
    let s3 = spawn_s3().await;
    let app = spawn_on_s3(&s3, "a-wrong-secret").await;
    let user = app.contributor().await;
    let cat = category(&app, "images").await.to_string();
    let (status, body) = upload(
        &app,
        &user,
        &[("title", "t"), ("category_id", &cat), ("media_type", "image")],
        Some(("file", "p.png", &fixture("pic.png"))),
    )
    .await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(record_count(&app).await, 0);
    let (status, _) = chunk(&app, &user, Uuid::new_v4(), 0, 1, &fixture("pic.png")).await;
    assert_eq!(status, 503);
    let chunks: i64 = sqlx::query_scalar("SELECT count(*) FROM upload_chunk").fetch_one(app.pool()).await.unwrap();
    assert_eq!(chunks, 0);
    assert!(s3_objects(&s3).is_empty());
}

#[tokio::test]
async fn record_upload_spools_in_upload_tmp_dir_and_fails_cleanly_without_it() {
    let spool = tempfile::tempdir().unwrap();
    let spool_dir = spool.path().join("spool");
    let dir = spool_dir.clone();
    let app = TestApp::spawn_with(move |c| c.uploads.upload_tmp_dir = Some(dir)).await;
    assert!(spool_dir.is_dir(), "the spool directory is created at start");
    let user = app.contributor().await;
    let cat = category(&app, "images").await.to_string();
    let fields = [("title", "t"), ("category_id", cat.as_str()), ("media_type", "image")];
    let (status, body) = upload(&app, &user, &fields, Some(("file", "p.png", &fixture("pic.png")))).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(std::fs::read_dir(&spool_dir).unwrap().count(), 0, "spool files are removed after use");

    // Without its spool directory the upload fails as a 500, and leaves no row and no object.
    std::fs::remove_dir_all(&spool_dir).unwrap();
    let before = (record_count(&app).await, stored_files(&app).len());
    let (status, body) = upload(&app, &user, &fields, Some(("file", "p.png", &fixture("pic.png")))).await;
    assert_eq!((status, body), (500, json!({"detail": "Internal server error"})));
    assert_eq!((record_count(&app).await, stored_files(&app).len()), before);
}

#[tokio::test]
async fn record_upload_of_the_same_bytes_is_flagged_as_a_duplicate_and_findable_by_hash() {
    let app = TestApp::spawn().await;
    let (first_user, second_user, reviewer) = (app.contributor().await, app.contributor().await, app.reviewer().await);
    let cat = category(&app, "images").await.to_string();
    let fields = [("title", "t"), ("category_id", cat.as_str()), ("media_type", "image")];
    let png = fixture("pic.png");
    let (status, first) = upload(&app, &first_user, &fields, Some(("file", "a.png", &png))).await;
    assert_eq!(status, 201, "{first}");
    assert_eq!(first["duplicate_of"], Value::Null, "the first upload is the original");
    let (status, other) = upload(&app, &first_user, &fields, Some(("file", "b.jpg", &fixture("pic.jpg")))).await;
    assert_eq!(status, 201);
    assert_eq!(other["duplicate_of"], Value::Null, "different bytes are not duplicates");
    let (status, second) = upload(&app, &second_user, &fields, Some(("file", "c.png", &png))).await;
    assert_eq!(status, 201);
    assert_eq!(second["duplicate_of"], first["uid"]);

    let hash = hex::encode(Sha256::digest(&png));
    let (status, found) =
        send(app.get(&format!("/api/v1/records/?content_sha256={hash}")).header("Authorization", reviewer.bearer()))
            .await;
    assert_eq!(status, 200);
    let uids: Vec<&Value> = found.as_array().unwrap().iter().map(|r| &r["uid"]).collect();
    assert_eq!(uids, vec![&second["uid"], &first["uid"]], "newest first");
    let (status, mine) =
        send(app.get(&format!("/api/v1/records/?content_sha256={hash}")).header("Authorization", second_user.bearer()))
            .await;
    assert_eq!((status, mine.as_array().unwrap().len()), (200, 1), "contributors still see only their own");
    let (status, body) =
        send(app.get("/api/v1/records/?content_sha256=xyz").header("Authorization", reviewer.bearer())).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["errors"][0]["loc"], json!(["query", "content_sha256"]));
}

#[tokio::test]
async fn record_upload_refuses_nul_in_fields_and_strips_control_characters_from_file_names() {
    let app = TestApp::spawn().await;
    let user = app.contributor().await;
    let cat = category(&app, "images").await.to_string();
    let png = fixture("pic.png");
    for (fields, field) in [
        (vec![("title", "a\u{0}b"), ("category_id", cat.as_str()), ("media_type", "image")], "title"),
        (
            vec![
                ("title", "t"),
                ("category_id", cat.as_str()),
                ("media_type", "image"),
                ("metadata", r#"{"k":"v\u0000"}"#),
            ],
            "metadata",
        ),
    ] {
        let (status, body) = upload(&app, &user, &fields, Some(("file", "p.png", &png))).await;
        assert_eq!(status, 422, "{body}");
        assert_eq!(body["errors"][0]["loc"][1], field, "{body}");
    }
    assert_eq!(record_count(&app).await, 0);
    let fields = [("title", "t"), ("category_id", cat.as_str()), ("media_type", "image")];
    // A raw NUL cannot even be part of a multipart header: the body is refused as malformed.
    let (status, body) = upload(&app, &user, &fields, Some(("file", "pic\u{0}ture.png", &png))).await;
    assert_eq!(status, 400, "{body}");
    let (status, rec) = upload(&app, &user, &fields, Some(("file", "pic\tture.png", &png))).await;
    assert_eq!(status, 201, "{rec}");
    assert_eq!(rec["file_name"], "picture.png");
}
