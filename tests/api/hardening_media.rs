//! Hostile media files over HTTP: files whose headers claim sizes or durations their bytes
//! cannot hold must neither stop the process (the crash files of the hardening issue made it
//! abort with a failed multi-petabyte allocation) nor put fantasy durations into the totals.
//! The app runs inside this test binary, so an abort in it fails the whole run.

use std::path::PathBuf;

use serde_json::Value;
use uuid::Uuid;

use crate::{
    helpers::{TestApp, accounts::TestUser, send},
    records_crud::category,
    records_upload::multipart,
};

fn hostile(name: &str) -> Vec<u8> {
    std::fs::read(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/hostile").join(name)).unwrap()
}

async fn direct(app: &TestApp, user: &TestUser, media: &str, name: &str, bytes: &[u8]) -> (u16, Value) {
    let cat = category(app, &format!("{media}-{}", Uuid::new_v4().simple())).await.to_string();
    let (ct, body) =
        multipart(&[("title", name), ("category_id", &cat), ("media_type", media)], Some(("file", name, bytes)));
    send(
        app.post("/api/v1/records/upload").header("Authorization", user.bearer()).header("Content-Type", ct).body(body),
    )
    .await
}

/// Sends `bytes` as two chunks, then finalises.
async fn chunked(app: &TestApp, user: &TestUser, media: &str, name: &str, bytes: &[u8]) -> (u16, Value) {
    let upload = Uuid::new_v4().to_string();
    let half = bytes.len() / 2;
    for (index, part) in [&bytes[..half], &bytes[half..]].into_iter().enumerate() {
        let index = index.to_string();
        let (ct, body) = multipart(
            &[("filename", name), ("chunk_index", &index), ("total_chunks", "2"), ("upload_uuid", &upload)],
            Some(("chunk", "blob", part)),
        );
        let (status, body) = send(
            app.post("/api/v1/records/upload/chunk")
                .header("Authorization", user.bearer())
                .header("Content-Type", ct)
                .body(body),
        )
        .await;
        assert_eq!(status, 200, "{body}");
    }
    let cat = category(app, &format!("{media}-{}", Uuid::new_v4().simple())).await.to_string();
    let (ct, body) = multipart(
        &[
            ("title", name),
            ("category_id", &cat),
            ("media_type", media),
            ("upload_uuid", &upload),
            ("filename", name),
            ("total_chunks", "2"),
        ],
        None,
    );
    send(
        app.post("/api/v1/records/upload").header("Authorization", user.bearer()).header("Content-Type", ct).body(body),
    )
    .await
}

#[tokio::test]
async fn crash_files_are_stored_with_an_unknown_duration_and_the_server_keeps_serving() {
    let app = TestApp::spawn().await;
    let user = app.contributor().await;
    for name in ["ebml-huge-doctype.webm", "m4a-huge-hdlr.m4a", "mp3-id3-frame-256mb.mp3"] {
        let bytes = hostile(name);
        for media in ["audio", "video"] {
            for (how, (status, body)) in [
                ("direct", direct(&app, &user, media, name, &bytes).await),
                ("chunked", chunked(&app, &user, media, name, &bytes).await),
            ] {
                // Refused as the wrong kind (415) or stored without a duration: never a crash.
                match status {
                    201 => assert_eq!(body["duration_seconds"], Value::Null, "{name} as {media}, {how}: {body}"),
                    415 => {}
                    other => panic!("{name} as {media}, {how}: {other} {body}"),
                }
            }
        }
        let (status, _) = send(app.get("/health")).await;
        assert_eq!(status, 200, "still serving after {name}");
    }
    // The audio crash files are real audio containers: stored, not refused.
    let (status, body) = direct(&app, &user, "audio", "m4a-huge-hdlr.m4a", &hostile("m4a-huge-hdlr.m4a")).await;
    assert_eq!((status, body["duration_seconds"].clone()), (201, Value::Null), "{body}");
    let (status, body) = direct(&app, &user, "audio", "x.mp3", &hostile("mp3-id3-frame-256mb.mp3")).await;
    assert_eq!((status, body["duration_seconds"].clone()), (201, Value::Null), "{body}");
}

#[tokio::test]
async fn a_duration_the_bytes_cannot_hold_is_unknown_flagged_and_not_summed() {
    let app = TestApp::spawn().await;
    let user = app.contributor().await;
    let (status, body) = direct(&app, &user, "audio", "lie.m4a", &hostile("m4a-claims-2e9-seconds.m4a")).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["duration_seconds"], Value::Null, "{body}");
    assert_eq!(body["duration_implausible"], true, "{body}");

    // A real recording beside it is timed and counted; the lie is not.
    let real = std::fs::read(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/media/cbr.mp3")).unwrap();
    let (status, body) = direct(&app, &user, "audio", "real.mp3", &real).await;
    assert_eq!(
        (status, body["duration_seconds"].clone(), body["duration_implausible"].clone()),
        (201, 3.into(), false.into())
    );
    let (status, body) =
        send(app.get(&format!("/api/v1/users/{}/contributions", user.id)).header("Authorization", user.bearer())).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["audio_duration"], 3, "{body}");
}

/// A probe child that dies or hangs costs only the duration: the upload is stored, with its
/// duration unknown, and a hanging child is killed at the time limit.
#[tokio::test]
async fn a_probe_child_that_dies_or_hangs_costs_only_the_duration() {
    let dir = tempfile::tempdir().unwrap();
    let hang = dir.path().join("hang.sh");
    std::fs::write(&hang, "#!/bin/sh\nexec sleep 60\n").unwrap();
    std::fs::set_permissions(&hang, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let real = std::fs::read(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/media/cbr.mp3")).unwrap();
    for program in [PathBuf::from("/bin/false"), hang] {
        let app = TestApp::spawn_with(|c| {
            c.uploads.media_probe_program = Some(program.clone());
            c.uploads.media_probe_timeout_seconds = 1;
        })
        .await;
        let user = app.contributor().await;
        let started = std::time::Instant::now();
        let (status, body) = direct(&app, &user, "audio", "real.mp3", &real).await;
        assert_eq!((status, body["duration_seconds"].clone()), (201, Value::Null), "{program:?}: {body}");
        assert_eq!(body["duration_implausible"], false, "{body}");
        assert!(started.elapsed() < std::time::Duration::from_secs(10), "{program:?}: {:?}", started.elapsed());
    }
}
