//! JSON answers are compressed for clients that accept gzip or br; file downloads never are.

use std::io::Read;

use serde_json::{Value, json};

use crate::{
    helpers::TestApp,
    records_crud::{HYDERABAD, category, create},
    records_upload::upload,
};

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes).read_to_end(&mut out).unwrap();
    out
}

fn unbrotli(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    brotli_decompressor::Decompressor::new(bytes, 4096).read_to_end(&mut out).unwrap();
    out
}

/// The same request with and without `Accept-Encoding`: (encoding, raw bytes, plain bytes).
async fn fetch(app: &TestApp, path: &str, bearer: &str, encoding: &str) -> (Option<String>, Vec<u8>, Vec<u8>) {
    let compressed =
        app.get(path).header("Authorization", bearer).header("Accept-Encoding", encoding).send().await.unwrap();
    assert_eq!(compressed.status(), 200);
    let used = compressed.headers().get("content-encoding").map(|v| v.to_str().unwrap().to_owned());
    let raw = compressed.bytes().await.unwrap().to_vec();
    let plain = app.get(path).header("Authorization", bearer).send().await.unwrap();
    assert!(plain.headers().get("content-encoding").is_none(), "no Accept-Encoding, no compression");
    (used, raw, plain.bytes().await.unwrap().to_vec())
}

#[tokio::test]
async fn record_lists_and_the_openapi_document_are_compressed_when_accepted() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let cat = category(&app, "compressed").await;
    for i in 0..40 {
        let (latitude, longitude) = HYDERABAD;
        create(
            &app,
            &admin,
            json!({"title": format!("record {i}"), "media_type": "text", "category_id": cat,
                   "location": {"latitude": latitude, "longitude": longitude}, "language": "te"}),
        )
        .await;
    }
    let list = "/api/v1/records/?limit=100";
    let (used, raw, plain) = fetch(&app, list, &admin.bearer(), "gzip").await;
    assert_eq!(used.as_deref(), Some("gzip"));
    assert!(raw.len() * 4 < plain.len(), "gzip {} bytes vs {} plain", raw.len(), plain.len());
    let unpacked: Value = serde_json::from_slice(&gunzip(&raw)).unwrap();
    assert_eq!(unpacked, serde_json::from_slice::<Value>(&plain).unwrap());
    assert_eq!(unpacked.as_array().unwrap().len(), 40);
    // Asked again, the page (held by the list cache, compressed with it) is the same bytes.
    let (used, again, _) = fetch(&app, list, &admin.bearer(), "deflate, gzip;q=0.8").await;
    assert_eq!(used.as_deref(), Some("gzip"));
    assert_eq!(again, raw);

    let (used, raw, plain) = fetch(&app, list, &admin.bearer(), "br").await;
    assert_eq!(used.as_deref(), Some("br"));
    assert_eq!(
        serde_json::from_slice::<Value>(&unbrotli(&raw)).unwrap(),
        serde_json::from_slice::<Value>(&plain).unwrap()
    );

    let (used, raw, plain) = fetch(&app, "/api/v1/openapi.json", "", "gzip, br").await;
    assert!(matches!(used.as_deref(), Some("gzip" | "br")), "{used:?}");
    assert!(raw.len() < plain.len());
}

#[tokio::test]
async fn file_downloads_are_never_compressed_whole_or_ranged() {
    let app = TestApp::spawn().await;
    let user = app.contributor().await;
    let cat = category(&app, "files").await;
    // Text compresses well, so only the rule keeps it out.
    let text = "ఇది ఒక తెలుగు వాక్యం. ".repeat(400);
    let (status, record) = upload(
        &app,
        &user,
        &[("title", "poem"), ("media_type", "text"), ("category_id", &cat.to_string())],
        Some(("file", "poem.txt", text.as_bytes())),
    )
    .await;
    assert_eq!(status, 201, "{record}");
    let path = format!("/api/v1/records/{}/file", record["id"].as_str().unwrap());
    let (used, raw, plain) = fetch(&app, &path, &user.bearer(), "gzip, br").await;
    assert_eq!(used, None);
    assert_eq!(raw, text.as_bytes());
    assert_eq!(plain, text.as_bytes());

    let ranged = app
        .get(&path)
        .header("Authorization", user.bearer())
        .header("Accept-Encoding", "gzip, br")
        .header("Range", "bytes=10-2009")
        .send()
        .await
        .unwrap();
    assert_eq!(ranged.status(), 206);
    assert!(ranged.headers().get("content-encoding").is_none());
    assert_eq!(ranged.bytes().await.unwrap().as_ref(), &text.as_bytes()[10..2010]);
}
