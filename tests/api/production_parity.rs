//! Production parity: every operation of the production service's OpenAPI document (a copy of
//! `../shared/spec/production-openapi.json` in `tests/fixtures/`, DECISIONS §2a) is served here
//! with its parameters, request fields, response fields and success status; and the calls the
//! repository never had work as a client would make them.

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

use crate::helpers::{TestApp, send};

/// The production service's document, as a client project saved it (September 2025).
fn production_doc() -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/production-openapi.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Deliberate differences, each with its reason. A key is `METHOD path` for a whole operation,
/// or `METHOD path request|response field.path` for one field. An entry that no longer matches a
/// difference fails the test too, so the list cannot go stale.
const ALLOWED: &[(&str, &str)] = &[
    // DECISIONS §3.3: review fields, status and file facts are set by the server, never by a
    // client. A client may still send them: they are accepted and ignored, not refused.
    ("POST /api/v1/records/ request file_url", "server-set (DECISIONS §3.3); ignored when sent"),
    ("POST /api/v1/records/ request file_name", "server-set (DECISIONS §3.3); ignored when sent"),
    ("POST /api/v1/records/ request file_size", "server-set (DECISIONS §3.3); ignored when sent"),
    ("POST /api/v1/records/ request status", "server-set (DECISIONS §3.3); ignored when sent"),
    ("POST /api/v1/records/ request reviewed", "server-set (DECISIONS §3.3); ignored when sent"),
    ("POST /api/v1/records/ request reviewed_by", "server-set (DECISIONS §3.3); ignored when sent"),
    ("POST /api/v1/records/ request reviewed_at", "server-set (DECISIONS §3.3); ignored when sent"),
    ("PATCH /api/v1/records/{record_id} request file_url", "server-managed; ignored when sent"),
    ("PATCH /api/v1/records/{record_id} request file_name", "server-managed; ignored when sent"),
    ("PATCH /api/v1/records/{record_id} request file_size", "server-managed; ignored when sent"),
    ("PATCH /api/v1/records/{record_id} request reviewed_by", "stamped with the caller (DECISIONS §3.16)"),
    ("PATCH /api/v1/records/{record_id} request reviewed_at", "stamped with the time (DECISIONS §3.16)"),
    // upstream-api.md §11 #23: clients could set a category's id and timestamps; the server
    // sets them (ignored when sent).
    ("POST /api/v1/categories/ request id", "server-set (upstream-api §11 #23); ignored when sent"),
    ("POST /api/v1/categories/ request created_at", "server-set (upstream-api §11 #23); ignored when sent"),
    ("POST /api/v1/categories/ request updated_at", "server-set (upstream-api §11 #23); ignored when sent"),
];

/// A schema with `$ref`s to `#/components/schemas/...` followed.
fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    let mut schema = schema;
    for _ in 0..32 {
        let Some(r) = schema["$ref"].as_str() else { return schema };
        let name = r.strip_prefix("#/components/schemas/").unwrap_or_else(|| panic!("unexpected $ref {r}"));
        schema = &doc["components"]["schemas"][name];
    }
    panic!("$ref chain too long");
}

/// The alternatives of a schema: itself, or each branch of `anyOf`/`oneOf`/`allOf`, resolved.
fn branches<'a>(doc: &'a Value, schema: &'a Value) -> Vec<&'a Value> {
    let schema = resolve(doc, schema);
    let mut out = vec![schema];
    for key in ["anyOf", "oneOf", "allOf"] {
        for branch in schema[key].as_array().into_iter().flatten() {
            out.extend(branches(doc, branch));
        }
    }
    out
}

/// The properties of an object schema, merged over its branches (nullable unions, `allOf`).
fn properties<'a>(doc: &'a Value, schema: &'a Value) -> Map<String, Value> {
    let mut out = Map::new();
    for branch in branches(doc, schema) {
        for (name, prop) in branch["properties"].as_object().into_iter().flatten() {
            out.entry(name.clone()).or_insert_with(|| prop.clone());
        }
    }
    out
}

/// The item schema of an array schema (or of an array branch of a nullable union).
fn items<'a>(doc: &'a Value, schema: &'a Value) -> Option<&'a Value> {
    branches(doc, schema).into_iter().find_map(|b| b.get("items"))
}

/// The enum values a schema allows, when it restricts them.
fn enum_values(doc: &Value, schema: &Value) -> Option<BTreeSet<String>> {
    let mut found = None::<BTreeSet<String>>;
    for branch in branches(doc, schema) {
        if let Some(values) = branch["enum"].as_array() {
            found.get_or_insert_default().extend(values.iter().filter_map(|v| v.as_str().map(str::to_owned)));
        }
    }
    found
}

/// Adds to `missing` what the production schema `prod` has and ours (`here`) lacks: properties,
/// recursively through `$ref`s, arrays and unions, and enum values.
fn compare(prod_doc: &Value, prod: &Value, doc: &Value, here: &Value, at: &str, missing: &mut Vec<String>) {
    if at.matches('.').count() > 12 {
        return;
    }
    if let (Some(want), Some(have)) = (enum_values(prod_doc, prod), enum_values(doc, here)) {
        for value in want.difference(&have) {
            missing.push(format!("{at} enum value {value:?}"));
        }
    }
    let ours = properties(doc, here);
    for (name, prop) in properties(prod_doc, prod) {
        let field = if at.is_empty() { name.clone() } else { format!("{at}.{name}") };
        match ours.get(&name) {
            Some(our) => compare(prod_doc, &prop, doc, our, &field, missing),
            None => missing.push(field),
        }
    }
    if let Some(prod_items) = items(prod_doc, prod) {
        match items(doc, here) {
            Some(our_items) => compare(prod_doc, prod_items, doc, our_items, &format!("{at}[]"), missing),
            None => missing.push(format!("{at} (an array in production)")),
        }
    }
}

/// A path template without its trailing slash (collection routes answer both ways here).
fn normalize(path: &str) -> &str {
    if path.len() > 1 { path.trim_end_matches('/') } else { path }
}

/// Every difference between the production document and ours: `(key, what)`, where `key` is
/// the operation or field as [`ALLOWED`] names it.
fn differences(prod_doc: &Value, doc: &Value) -> Vec<(String, String)> {
    let ours: Map<String, Value> =
        doc["paths"].as_object().unwrap().iter().map(|(p, ops)| (normalize(p).to_owned(), ops.clone())).collect();
    let mut found = Vec::new();
    for (path, ops) in prod_doc["paths"].as_object().unwrap() {
        for (method, prod_op) in ops.as_object().unwrap() {
            let op_key = format!("{} {path}", method.to_uppercase());
            let Some(op) = ours.get(normalize(path)).and_then(|o| o.get(method.as_str())) else {
                found.push((op_key, "operation missing".to_owned()));
                continue;
            };
            // Parameters: same name, same place.
            let params: BTreeSet<(String, String)> = op["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|p| (p["name"].as_str().unwrap().to_owned(), p["in"].as_str().unwrap().to_owned()))
                .collect();
            for p in prod_op["parameters"].as_array().into_iter().flatten() {
                let (name, place) = (p["name"].as_str().unwrap(), p["in"].as_str().unwrap());
                if !params.contains(&(name.to_owned(), place.to_owned())) {
                    found.push((format!("{op_key} {place} {name}"), "parameter missing".to_owned()));
                }
            }
            // Request bodies, per content type.
            for (content_type, media) in prod_op["requestBody"]["content"].as_object().into_iter().flatten() {
                let our = &op["requestBody"]["content"][content_type];
                if !our.is_object() {
                    found.push((format!("{op_key} request {content_type}"), "content type not documented".into()));
                    continue;
                }
                let mut missing = Vec::new();
                compare(prod_doc, &media["schema"], doc, &our["schema"], "", &mut missing);
                found.extend(missing.into_iter().map(|f| (format!("{op_key} request {f}"), "field missing".into())));
            }
            // The success answer: same status, and its JSON fields.
            for (status, prod_response) in prod_op["responses"].as_object().unwrap() {
                if !status.starts_with('2') {
                    continue;
                }
                let our = &op["responses"][status.as_str()];
                if !our.is_object() {
                    let ours: Vec<&String> = op["responses"].as_object().unwrap().keys().collect();
                    found.push((format!("{op_key} status {status}"), format!("answers {ours:?}")));
                    continue;
                }
                let prod_schema = &prod_response["content"]["application/json"]["schema"];
                if prod_schema.is_object() {
                    let mut missing = Vec::new();
                    let our_schema = &our["content"]["application/json"]["schema"];
                    compare(prod_doc, prod_schema, doc, our_schema, "", &mut missing);
                    found.extend(
                        missing.into_iter().map(|f| (format!("{op_key} response {f}"), "field missing".into())),
                    );
                }
            }
        }
    }
    found
}

#[tokio::test]
async fn production_parity_every_production_operation_parameter_and_field_is_served() {
    let app = TestApp::spawn().await;
    let (status, doc) = send(app.get("/api/v1/openapi.json")).await;
    assert_eq!(status, 200);
    let prod = production_doc();
    let operations: usize = prod["paths"].as_object().unwrap().values().map(|ops| ops.as_object().unwrap().len()).sum();
    assert_eq!(operations, 45, "the production document has 45 operations");

    let found = differences(&prod, &doc);
    let unexplained: Vec<String> = found
        .iter()
        .filter(|(key, _)| !ALLOWED.iter().any(|(allowed, _)| allowed == key))
        .map(|(key, what)| format!("{key}: {what}"))
        .collect();
    assert!(unexplained.is_empty(), "production has what this service lacks:\n{}", unexplained.join("\n"));
    let stale: Vec<&str> =
        ALLOWED.iter().map(|(key, _)| *key).filter(|key| !found.iter().any(|(k, _)| k == key)).collect();
    assert!(stale.is_empty(), "allowed differences that no longer exist (remove them): {stale:?}");

    // The walk sees through this document's own shapes (`allOf` of a flattened struct, `null`
    // unions, arrays of `$ref`s): taking things out of it is noticed.
    let mut broken = doc.clone();
    let schemas = &mut broken["components"]["schemas"];
    schemas["MediaType"]["enum"].as_array_mut().unwrap().retain(|v| v != "document");
    schemas["ContributionRead"]["properties"].as_object_mut().unwrap().remove("document_contributions");
    schemas["RoleRead"]["properties"].as_object_mut().unwrap().remove("description");
    schemas["Location"]["properties"].as_object_mut().unwrap().remove("latitude");
    broken["paths"].as_object_mut().unwrap().remove("/api/v1/records/{record_id}/record-url");
    let noticed: Vec<String> = differences(&prod, &broken).into_iter().map(|(key, _)| key).collect();
    for expected in [
        "POST /api/v1/records/ request media_type enum value \"document\"",
        "GET /api/v1/users/{user_id}/contributions response document_contributions",
        "GET /api/v1/users/{user_id}/contributions response audio_contributions[].location.latitude",
        "GET /api/v1/users/{user_id}/with-roles response roles[].description",
        "GET /api/v1/records/{record_id} response location.latitude",
        "GET /api/v1/records/{record_id}/record-url",
    ] {
        assert!(noticed.iter().any(|n| n == expected), "not noticed: {expected}; noticed: {noticed:#?}");
    }
}

#[test]
fn production_parity_checker_finds_missing_operations_parameters_fields_and_enum_values() {
    // The checker itself: a document lacking one of each kind of thing is caught.
    let prod = json!({
        "paths": {
            "/api/v1/things/": {
                "get": {
                    "parameters": [{"name": "skip", "in": "query"}],
                    "responses": {"200": {"content": {"application/json": {"schema": {
                        "type": "array", "items": {"$ref": "#/components/schemas/Thing"}}}}}}
                },
                "post": {"responses": {"201": {}}}
            },
            "/api/v1/gone": {"delete": {"responses": {"200": {}}}}
        },
        "components": {"schemas": {
            "Thing": {"properties": {
                "id": {"type": "string"},
                "kind": {"$ref": "#/components/schemas/Kind"},
                "where": {"anyOf": [{"$ref": "#/components/schemas/Point"}, {"type": "null"}]}
            }},
            "Kind": {"type": "string", "enum": ["a", "b"]},
            "Point": {"properties": {"lat": {"type": "number"}, "lon": {"type": "number"}}}
        }}
    });
    let ours = json!({
        "paths": {
            "/api/v1/things": {
                "get": {
                    "parameters": [],
                    "responses": {"200": {"content": {"application/json": {"schema": {
                        "type": "array", "items": {"$ref": "#/components/schemas/Thing"}}}}}}
                },
                "post": {"responses": {"200": {}}}
            }
        },
        "components": {"schemas": {
            "Thing": {"allOf": [{"properties": {"id": {"type": "string"}}}, {"properties": {
                "kind": {"type": "string", "enum": ["a"]},
                "where": {"oneOf": [{"type": "null"}, {"properties": {"lat": {"type": "number"}}}]}
            }}]}
        }}
    });
    let mut found: Vec<String> = differences(&prod, &ours).into_iter().map(|(k, _)| k).collect();
    found.sort();
    assert_eq!(
        found,
        [
            "DELETE /api/v1/gone",
            "GET /api/v1/things/ query skip",
            "GET /api/v1/things/ response [].kind enum value \"b\"",
            "GET /api/v1/things/ response [].where.lon",
            "POST /api/v1/things/ status 201",
        ]
    );
    assert!(differences(&prod, &prod).is_empty(), "a document has everything it has");
}

// ---------------------------------------------------------------------------------------------
// The calls production has and the repository never had, as a client makes them.
// ---------------------------------------------------------------------------------------------

mod calls {
    use corpus_te::auth::links::LinkKey;
    use serde_json::{Value, json};
    use sha2::{Digest, Sha256};
    use uuid::Uuid;

    use crate::{
        helpers::{
            TestApp,
            accounts::{PASSWORD, TestUser},
            send,
            sms::FakeSms,
        },
        records_crud::{category, create},
        records_upload::{S3_KEY, chunk, fixture, spawn_on_s3, spawn_s3, upload},
    };

    fn sha256(bytes: &[u8]) -> String {
        hex::encode(Sha256::digest(bytes))
    }

    async fn upload_document(app: &TestApp, user: &TestUser, cat: &str, file: &str, name: &str) -> (u16, Value) {
        let bytes = fixture(file);
        upload(
            app,
            user,
            &[("title", "పత్రం"), ("category_id", cat), ("media_type", "document")],
            Some(("file", name, &bytes)),
        )
        .await
    }

    async fn get_bytes(app: &TestApp, url: &str, bearer: Option<&str>) -> (u16, Vec<u8>) {
        let mut request = app.client.get(if url.starts_with("http") { url.to_owned() } else { app.url(url) });
        if let Some(bearer) = bearer {
            request = request.header("Authorization", bearer);
        }
        let response = request.send().await.unwrap();
        (response.status().as_u16(), response.bytes().await.unwrap().to_vec())
    }

    #[tokio::test]
    async fn production_parity_document_uploads_direct_and_chunked_round_trip() {
        let app = TestApp::spawn().await;
        let user = app.contributor().await;
        let cat = category(&app, "documents").await.to_string();

        // Direct: PDF, an OOXML file told apart only by its central directory, plain text.
        let mut uids = Vec::new();
        for (file, name, mime, ext) in [
            ("doc.pdf", "నివేదిక.pdf", "application/pdf", ".pdf"),
            ("late.xlsx", "table.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", ".xlsx"),
            (
                "doc.docx",
                "letter.docx",
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                ".docx",
            ),
            ("doc.odt", "letter.odt", "application/vnd.oasis.opendocument.text", ".odt"),
            ("doc.doc", "old.doc", "application/msword", ".doc"),
            ("telugu.txt", "కథ.txt", "text/plain; charset=utf-8", ".txt"),
        ] {
            let (status, rec) = upload_document(&app, &user, &cat, file, name).await;
            assert_eq!(status, 201, "{file}: {rec}");
            assert_eq!(
                (rec["media_type"].as_str(), rec["mime_type"].as_str()),
                (Some("document"), Some(mime)),
                "{file}"
            );
            assert_eq!(rec["file_name"], name);
            assert_eq!(rec["content_sha256"], sha256(&fixture(file)));
            assert_eq!(rec["duration_seconds"], Value::Null);
            let uid = rec["uid"].as_str().unwrap().to_owned();
            assert!(app.storage_dir.path().join(format!("document/{uid}{ext}")).is_file(), "{file} stored as {ext}");
            let (status, bytes) = get_bytes(&app, &format!("/api/v1/records/{uid}/file"), Some(&user.bearer())).await;
            assert_eq!((status, bytes), (200, fixture(file)), "{file}");
            uids.push(uid);
        }

        // Anything else declared a document is refused with 415, and nothing is kept.
        for (file, name) in
            [("plain.zip", "a.docx"), ("other.cfb", "setup.doc"), ("fake.exe", "x.pdf"), ("pic.png", "p.pdf")]
        {
            let (status, body) = upload_document(&app, &user, &cat, file, name).await;
            assert_eq!(status, 415, "{file}: {body}");
        }
        let (status, _) = upload(
            &app,
            &user,
            &[("title", "t"), ("category_id", &cat), ("media_type", "image")],
            Some(("file", "scan.pdf", &fixture("doc.pdf"))),
        )
        .await;
        assert_eq!(status, 415, "a PDF is no image");
        let (status, _) = upload_document(&app, &user, &cat, "doc.pdf", "virus.exe").await;
        assert_eq!(status, 415, "the name's extension must be a document's");

        // Chunked, finalised form-urlencoded as production documents it: a legacy PowerPoint
        // file whose directory lies past the first 8 KiB.
        let bytes = fixture("late.ppt");
        let parts: Vec<&[u8]> = bytes.chunks(bytes.len() / 3 + 1).collect();
        let upload_uuid = Uuid::new_v4();
        for (i, part) in parts.iter().enumerate() {
            let (status, body) = chunk(&app, &user, upload_uuid, i, parts.len(), part).await;
            assert_eq!(status, 200, "{body}");
        }
        let form = [
            ("title", "స్లైడ్లు"),
            ("category_id", cat.as_str()),
            ("user_id", &user.id.to_string()),
            ("media_type", "document"),
            ("upload_uuid", &upload_uuid.to_string()),
            ("filename", "slides.ppt"),
            ("total_chunks", &parts.len().to_string()),
            ("release_rights", "creator"),
            ("language", "telugu"),
            ("use_uid_filename", "false"),
        ];
        let (status, rec) =
            send(app.post("/api/v1/records/upload").header("Authorization", user.bearer()).form(&form)).await;
        assert_eq!(status, 201, "{rec}");
        assert_eq!(
            (rec["media_type"].as_str(), rec["mime_type"].as_str()),
            (Some("document"), Some("application/vnd.ms-powerpoint"))
        );
        let uid = rec["uid"].as_str().unwrap().to_owned();
        let (status, got) = get_bytes(&app, &format!("/api/v1/records/{uid}/file"), Some(&user.bearer())).await;
        assert_eq!((status, got == bytes), (200, true));
        uids.push(uid);

        // A JSON record may be a document too; filters and contributions count them all.
        let json_doc = create(
            &app,
            &user,
            json!({"title": "notes", "media_type": "document", "category_id": cat, "language": "te"}),
        )
        .await;
        uids.push(json_doc["uid"].as_str().unwrap().to_owned());
        let (status, list) =
            send(app.get("/api/v1/records/?media_type=document&limit=100").header("Authorization", user.bearer()))
                .await;
        assert_eq!(status, 200);
        let mut listed: Vec<&str> = list.as_array().unwrap().iter().map(|r| r["uid"].as_str().unwrap()).collect();
        listed.sort_unstable();
        let mut expected: Vec<&str> = uids.iter().map(String::as_str).collect();
        expected.sort_unstable();
        assert_eq!(listed, expected);
        let (status, list) =
            send(app.get("/api/v1/records/?media_type=image").header("Authorization", user.bearer())).await;
        assert_eq!((status, list), (200, json!([])));

        let (status, summary) =
            send(app.get(&format!("/api/v1/users/{}/contributions", user.id)).header("Authorization", user.bearer()))
                .await;
        assert_eq!(status, 200, "{summary}");
        assert_eq!(summary["total_contributions"], uids.len());
        assert_eq!(
            summary["contributions_by_media_type"],
            json!({"text": 0, "audio": 0, "image": 0, "video": 0, "document": uids.len()})
        );
        assert_eq!(summary["document_contributions"].as_array().unwrap().len(), uids.len());
        let (status, one) = send(
            app.get(&format!("/api/v1/users/{}/contributions/document", user.id))
                .header("Authorization", user.bearer()),
        )
        .await;
        assert_eq!((status, one["total_contributions"].as_u64()), (200, Some(uids.len() as u64)));
    }

    #[tokio::test]
    async fn production_parity_contribution_items_carry_productions_fields() {
        let app = TestApp::spawn().await;
        let user = app.contributor().await;
        let cat = category(&app, "voices").await.to_string();
        let wav = fixture("tone.wav");
        let (status, audio) = upload(
            &app,
            &user,
            &[
                ("title", "పాట"),
                ("description", "a tone"),
                ("category_id", &cat),
                ("media_type", "audio"),
                ("latitude", "17.385"),
                ("longitude", "78.4867"),
                ("language", "telugu"),
                ("release_rights", "creator"),
            ],
            Some(("file", "tone.wav", &wav)),
        )
        .await;
        assert_eq!(status, 201, "{audio}");
        // No language, no file: the item's language is an empty string, never null.
        let text = create(&app, &user, json!({"title": "కథ", "media_type": "text", "category_id": cat})).await;

        let (status, summary) =
            send(app.get(&format!("/api/v1/users/{}/contributions", user.id)).header("Authorization", user.bearer()))
                .await;
        assert_eq!(status, 200, "{summary}");
        assert_eq!(
            summary["contributions_by_media_type"],
            json!({"text": 1, "audio": 1, "image": 0, "video": 0, "document": 0})
        );
        assert_eq!((summary["audio_duration"].as_i64(), summary["video_duration"].as_i64()), (Some(4), Some(0)));
        assert_eq!(summary["document_contributions"], Value::Null);
        let item = &summary["audio_contributions"][0];
        assert_eq!(
            *item,
            json!({
                "id": audio["uid"], "size": wav.len(), "category_id": cat, "reviewed": false, "title": "పాట",
                "description": "a tone", "duration": 4, "timestamp": audio["created_at"],
                "location": {"latitude": 17.385, "longitude": 78.4867}, "release_rights": "creator",
                "language": "telugu", "file_hash": sha256(&wav), "snr_frequency": null,
            })
        );
        let item = &summary["text_contributions"][0];
        assert_eq!(
            *item,
            json!({
                "id": text["uid"], "size": 0, "category_id": cat, "reviewed": false, "title": "కథ",
                "description": null, "duration": null, "timestamp": text["created_at"], "location": null,
                "release_rights": null, "language": "", "file_hash": null, "snr_frequency": null,
            })
        );
        let (status, only) = send(
            app.get(&format!("/api/v1/users/{}/contributions/audio", user.id)).header("Authorization", user.bearer()),
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(only["contributions"][0], summary["audio_contributions"][0]);
    }

    async fn record_url(app: &TestApp, user: &TestUser, uid: &str, query: &str) -> (u16, Value) {
        send(app.get(&format!("/api/v1/records/{uid}/record-url{query}")).header("Authorization", user.bearer())).await
    }

    #[tokio::test]
    async fn production_parity_record_url_on_local_storage_is_a_signed_link_that_expires() {
        let app = TestApp::spawn().await;
        let (owner, other, reviewer) = (app.contributor().await, app.contributor().await, app.reviewer().await);
        let cat = category(&app, "pictures").await.to_string();
        let png = fixture("pic.png");
        let (status, rec) = upload(
            &app,
            &owner,
            &[("title", "చిత్రం"), ("category_id", &cat), ("media_type", "image")],
            Some(("file", "pic.png", &png)),
        )
        .await;
        assert_eq!(status, 201);
        let uid = rec["uid"].as_str().unwrap().to_owned();

        let before = chrono::Utc::now();
        let (status, answer) = record_url(&app, &owner, &uid, "?expires_minutes=2").await;
        assert_eq!(status, 200, "{answer}");
        let link = answer["record_url"].as_str().unwrap().to_owned();
        assert!(link.starts_with(&format!("/api/v1/records/{uid}/signed-file?expires=")), "{link}");
        let expires_at: chrono::DateTime<chrono::Utc> = answer["expires_at"].as_str().unwrap().parse().unwrap();
        let lifetime = (expires_at - before).num_seconds();
        assert!((119..=121).contains(&lifetime), "{lifetime}");

        // Anyone holding the link reads the file, without a token, with ranges.
        let (status, bytes) = get_bytes(&app, &link, None).await;
        assert_eq!((status, bytes == png), (200, true));
        let response = app.client.get(app.url(&link)).header("Range", "bytes=0-3").send().await.unwrap();
        assert_eq!(response.status(), 206);
        assert_eq!(response.headers()["content-security-policy"], "sandbox");
        assert_eq!(response.bytes().await.unwrap().as_ref(), &png[..4]);

        // Altered links are refused: another record, a longer life, a changed signature.
        let (query_expires, signature) = {
            let query = link.split_once('?').unwrap().1;
            let mut expires = 0i64;
            let mut signature = String::new();
            for (k, v) in form_urlencoded::parse(query.as_bytes()) {
                match k.as_ref() {
                    "expires" => expires = v.parse().unwrap(),
                    "signature" => signature = v.into_owned(),
                    _ => {}
                }
            }
            (expires, signature)
        };
        let forged = [
            format!("/api/v1/records/{}/signed-file?expires={query_expires}&signature={signature}", Uuid::new_v4()),
            format!("/api/v1/records/{uid}/signed-file?expires={}&signature={signature}", query_expires + 3600),
            format!("/api/v1/records/{uid}/signed-file?expires={query_expires}&signature={}", "0".repeat(64)),
        ];
        for url in forged {
            let (status, body) = send(app.get(&url)).await;
            assert_eq!((status, body), (403, json!({"detail": "Invalid link signature"})), "{url}");
        }
        // A link whose time is up (signed as the service signs them, a minute in the past).
        let key = LinkKey::new(&app.config.secret());
        let past = chrono::Utc::now().timestamp() - 60;
        let expired = format!(
            "/api/v1/records/{uid}/signed-file?expires={past}&signature={}",
            key.sign(uid.parse().unwrap(), past)
        );
        let (status, body) = send(app.get(&expired)).await;
        assert_eq!((status, body), (403, json!({"detail": "This link has expired"})));
        let (status, _) = send(app.get(&format!("/api/v1/records/{uid}/signed-file"))).await;
        assert_eq!(status, 422, "a link without its expiry and signature is no link");

        // Who may ask for a URL, and for what.
        assert_eq!(record_url(&app, &other, &uid, "").await.0, 404, "another contributor's record");
        let (status, answer) = record_url(&app, &reviewer, &uid, "").await;
        assert_eq!(status, 200);
        let expires_at: chrono::DateTime<chrono::Utc> = answer["expires_at"].as_str().unwrap().parse().unwrap();
        assert!((expires_at - chrono::Utc::now()).num_minutes() >= 14, "15 minutes by default");
        for bad in ["?expires_minutes=0", "?expires_minutes=121", "?expires_minutes=x"] {
            let (status, body) = record_url(&app, &owner, &uid, bad).await;
            assert_eq!(status, 422, "{bad}: {body}");
        }
        let (status, _) = send(app.get(&format!("/api/v1/records/{uid}/record-url"))).await;
        assert_eq!(status, 403, "no token");
        let no_file = create(&app, &owner, json!({"title": "t", "media_type": "text", "category_id": cat})).await;
        let (status, body) = record_url(&app, &owner, no_file["uid"].as_str().unwrap(), "").await;
        assert_eq!((status, body), (404, json!({"detail": "File not found"})));

        // With PUBLIC_API_BASE_URL the link is absolute.
        let app =
            TestApp::spawn_with(|c| c.storage.public_api_base_url = Some("https://api.example.org/".into())).await;
        let owner = app.contributor().await;
        let cat = category(&app, "pictures").await.to_string();
        let (_, rec) = upload(
            &app,
            &owner,
            &[("title", "t"), ("category_id", &cat), ("media_type", "image")],
            Some(("file", "pic.png", &png)),
        )
        .await;
        let (_, answer) = record_url(&app, &owner, rec["uid"].as_str().unwrap(), "").await;
        assert!(
            answer["record_url"].as_str().unwrap().starts_with("https://api.example.org/api/v1/records/"),
            "{answer}"
        );
    }

    #[tokio::test]
    async fn production_parity_record_url_on_s3_is_presigned() {
        let s3 = spawn_s3().await;
        let app = spawn_on_s3(&s3, crate::records_upload::S3_SECRET).await;
        let user = app.contributor().await;
        let cat = category(&app, "documents").await.to_string();
        let (status, rec) = upload_document(&app, &user, &cat, "doc.pdf", "report.pdf").await;
        assert_eq!(status, 201, "{rec}");
        let uid = rec["uid"].as_str().unwrap();
        let (status, answer) = record_url(&app, &user, uid, "?expires_minutes=5").await;
        assert_eq!(status, 200, "{answer}");
        let url = answer["record_url"].as_str().unwrap();
        assert!(url.starts_with(&format!("http://{}/corpus-data/document/{uid}.pdf?", s3.addr)), "{url}");
        assert!(url.contains("X-Amz-Expires=300") && url.contains("X-Amz-Signature="), "{url}");
        assert!(url.contains(S3_KEY), "signed with the configured access key: {url}");
        // The bucket itself serves it to a client holding no credentials.
        let response = reqwest::get(url).await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.bytes().await.unwrap().as_ref(), &fixture("doc.pdf")[..]);
        // A presigned URL with its signature altered is refused by the bucket.
        let tampered = url.replace("X-Amz-Expires=300", "X-Amz-Expires=3000");
        assert_eq!(reqwest::get(&tampered).await.unwrap().status(), 403);
    }

    #[tokio::test]
    async fn production_parity_patch_record_applies_puts_rules() {
        let app = TestApp::spawn().await;
        let (owner, other, reviewer) = (app.contributor().await, app.contributor().await, app.reviewer().await);
        let cat = category(&app, "stories").await.to_string();
        let rec = create(&app, &owner, json!({"title": "old", "media_type": "text", "category_id": cat})).await;
        let path = format!("/api/v1/records/{}", rec["uid"].as_str().unwrap());
        let patch = |user: &TestUser, body: Value| app.patch(&path).header("Authorization", user.bearer()).json(&body);

        let (status, got) =
            send(patch(&owner, json!({"title": "new", "language": "telugu", "media_type": "document"}))).await;
        assert_eq!(status, 200, "{got}");
        assert_eq!(
            (got["title"].as_str(), got["language"].as_str(), got["media_type"].as_str()),
            (Some("new"), Some("telugu"), Some("document"))
        );
        assert_eq!(got["description"], Value::Null, "fields not sent are kept");
        assert_eq!(send(patch(&other, json!({"title": "x"}))).await.0, 404);
        assert_eq!(send(patch(&reviewer, json!({"title": "x"}))).await.0, 403);
        let (status, got) = send(patch(&reviewer, json!({"status": "approved", "reviewed": true}))).await;
        assert_eq!(status, 200, "{got}");
        assert_eq!(
            (got["reviewed"].as_bool(), got["reviewed_by"].as_str()),
            (Some(true), Some(reviewer.id.to_string().as_str()))
        );
        // Server-managed fields production lists are accepted and ignored.
        let (status, got) =
            send(patch(&owner, json!({"file_url": "http://x", "file_size": 5, "reviewed_by": other.id}))).await;
        assert_eq!(
            (status, got["file_url"].clone(), got["reviewed_by"].as_str()),
            (200, Value::Null, Some(reviewer.id.to_string().as_str()))
        );
        let (status, body) = send(patch(&owner, json!({"title": null}))).await;
        assert_eq!(status, 422, "{body}");
    }

    #[tokio::test]
    async fn production_parity_change_password_under_users_needs_the_current_one_and_a_match() {
        let app = TestApp::spawn().await;
        let (user, admin) = (app.contributor().await, app.admin().await);
        let path = format!("/api/v1/users/{}/change-password", user.id);
        let put = |who: &TestUser, body: Value| app.put(&path).header("Authorization", who.bearer()).json(&body);

        let (status, body) = send(put(
            &user,
            json!({"current_password": PASSWORD, "new_password": "brand-new-1", "confirm_password": "brand-new-2"}),
        ))
        .await;
        assert_eq!(status, 422, "{body}");
        assert_eq!(body["errors"][0]["loc"], json!(["body", "confirm_password"]));
        let (status, body) = send(put(
            &user,
            json!({"current_password": PASSWORD, "new_password": "short-7", "confirm_password": "short-7"}),
        ))
        .await;
        assert_eq!(status, 422, "8 characters at least: {body}");
        let (status, body) = send(put(
            &user,
            json!({"current_password": "wrong", "new_password": "brand-new-1", "confirm_password": "brand-new-1"}),
        ))
        .await;
        assert_eq!((status, body), (400, json!({"detail": "Incorrect current password"})));
        let reviewer = app.reviewer().await;
        let new_twice = |current: &str| json!({"current_password": current, "new_password": "brand-new-1", "confirm_password": "brand-new-1"});
        let (status, body) = send(put(&reviewer, new_twice(PASSWORD))).await;
        assert_eq!(status, 403, "{body}");
        let (status, body) = send(put(&admin, new_twice("a-guess"))).await;
        assert_eq!(status, 400, "an admin still needs the current password: {body}");

        let (status, body) = send(put(
            &user,
            json!({"current_password": PASSWORD, "new_password": "brand-new-1", "confirm_password": "brand-new-1"}),
        ))
        .await;
        assert_eq!((status, body), (200, json!({"message": "Password changed successfully"})));
        assert_eq!(
            send(app.get("/api/v1/auth/me").header("Authorization", user.bearer())).await.0,
            401,
            "older tokens revoked"
        );
        let login =
            |password: &str| app.post("/api/v1/auth/login").json(&json!({"phone": user.phone, "password": password}));
        assert_eq!(send(login("brand-new-1")).await.0, 200);
        assert_eq!(send(login(PASSWORD)).await.0, 401);

        // The repository's change-password and reset now also want 8 characters; the production
        // service's public sign-up (`UserCreate`) still takes 6.
        let (status, _) = send(
            app.post("/api/v1/auth/change-password")
                .header("Authorization", admin.bearer())
                .json(&json!({"current_password": PASSWORD, "new_password": "seven-7"})),
        )
        .await;
        assert_eq!(status, 422);
        let (status, body) = send(app.post("/api/v1/users/").json(&json!({
            "phone": "+919800000077", "name": "Six", "password": "six-66", "has_given_consent": true
        })))
        .await;
        assert_eq!(status, 201, "{body}");
    }

    async fn app_with_sms() -> (TestApp, FakeSms) {
        let sms = FakeSms::start().await;
        let app = TestApp::spawn_with(|c| {
            sms.configure_ozonetel(c);
            c.otp.otp_rate_limit_minutes = 0;
        })
        .await;
        (app, sms)
    }

    #[tokio::test]
    async fn production_parity_forgot_password_init_and_confirm() {
        let (app, sms) = app_with_sms().await;
        let user = app.contributor().await;
        let (status, body) =
            send(app.post("/api/v1/auth/forgot-password/init").json(&json!({"phone_number": user.phone}))).await;
        assert_eq!(
            (status, body),
            (200, json!({"status": "success", "message": "OTP sent successfully", "reference_id": "ref-123"}))
        );
        let code = sms.last_code(&user.phone);
        let confirm = |code: &str, new: &str, again: &str| {
            app.post("/api/v1/auth/forgot-password/confirm").json(&json!({
                "phone_number": user.phone, "otp_code": code, "new_password": new, "confirm_password": again
            }))
        };
        let (status, body) = send(confirm(&code, "recovered-1", "recovered-2")).await;
        assert_eq!(status, 422, "{body}");
        let (status, body) = send(confirm(&code, "seven-7", "seven-7")).await;
        assert_eq!(status, 422, "{body}");
        let wrong = if code == "000000" { "111111" } else { "000000" };
        let (status, body) = send(confirm(wrong, "recovered-1", "recovered-1")).await;
        assert_eq!((status, body), (400, json!({"detail": "Invalid or expired OTP"})));
        let (status, body) = send(confirm(&code, "recovered-1", "recovered-1")).await;
        assert_eq!(
            (status, body),
            (200, json!({"status": "success", "message": "Password reset successfully", "reference_id": null}))
        );
        assert_eq!(send(app.get("/api/v1/auth/me").header("Authorization", user.bearer())).await.0, 401);
        let (status, _) =
            send(app.post("/api/v1/auth/login").json(&json!({"phone": user.phone, "password": "recovered-1"}))).await;
        assert_eq!(status, 200);
        // Spent: the same code does not reset again.
        assert_eq!(send(confirm(&code, "another-pass-1", "another-pass-1")).await.0, 400);
        let (status, _) =
            send(app.post("/api/v1/auth/forgot-password/init").json(&json!({"phone_number": "+919999999999"}))).await;
        assert_eq!(status, 404);
    }

    #[tokio::test]
    async fn production_parity_login_and_signup_resend_otp() {
        let (app, sms) = app_with_sms().await;
        let user = app.contributor().await;
        send(app.post("/api/v1/auth/login/send-otp").json(&json!({"phone_number": user.phone}))).await;
        let first = sms.last_code(&user.phone);
        let (status, body) =
            send(app.post("/api/v1/auth/login/resend-otp").json(&json!({"phone_number": user.phone}))).await;
        assert_eq!((status, body["message"].as_str()), (200, Some("OTP resent successfully")), "{body}");
        assert_eq!(sms.requests().len(), 2);
        let code = sms.last_code(&user.phone);
        if code != first {
            let (status, _) = send(
                app.post("/api/v1/auth/login/verify-otp").json(&json!({"phone_number": user.phone, "otp_code": first})),
            )
            .await;
            assert_eq!(status, 400, "the resent code replaces the first");
        }
        let (status, body) = send(
            app.post("/api/v1/auth/login/verify-otp").json(&json!({"phone_number": user.phone, "otp_code": code})),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["user_id"], json!(user.id));
        let (status, _) =
            send(app.post("/api/v1/auth/login/resend-otp").json(&json!({"phone_number": "+919999999998"}))).await;
        assert_eq!(status, 404);

        // Sign-up: resend for a new phone, then verify with a password of at least 8.
        let phone = "+919812345670";
        send(app.post("/api/v1/auth/signup/send-otp").json(&json!({"phone_number": phone}))).await;
        let (status, body) =
            send(app.post("/api/v1/auth/signup/resend-otp").json(&json!({"phone_number": phone}))).await;
        assert_eq!((status, body["message"].as_str()), (200, Some("OTP resent successfully")), "{body}");
        let code = sms.last_code(phone);
        let signup = |password: &str| {
            app.post("/api/v1/auth/signup/verify-otp").json(&json!({
                "phone_number": phone, "otp_code": code, "name": "కొత్త", "email": null,
                "password": password, "has_given_consent": true
            }))
        };
        let (status, body) = send(signup("seven-7")).await;
        assert_eq!(status, 422, "production wants 8 characters: {body}");
        assert_eq!(body["errors"][0]["loc"], json!(["body", "password"]));
        let (status, body) = send(signup("eight-88")).await;
        assert_eq!(status, 200, "{body}");
        let (status, body) =
            send(app.post("/api/v1/auth/signup/resend-otp").json(&json!({"phone_number": phone}))).await;
        assert_eq!((status, body), (409, json!({"detail": format!("Phone '{phone}' already exists")})));
    }

    #[tokio::test]
    async fn production_parity_with_roles_answers_the_documented_role_fields() {
        let app = TestApp::spawn().await;
        let user = app.create_user(&["user", "reviewer"]).await;
        let (status, body) =
            send(app.get(&format!("/api/v1/users/{}/with-roles", user.id)).header("Authorization", user.bearer()))
                .await;
        assert_eq!(status, 200, "{body}");
        let mut roles: Vec<(i64, &str)> = body["roles"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                let keys: Vec<&String> = r.as_object().unwrap().keys().collect();
                assert_eq!(keys, ["description", "id", "name"], "{r}");
                (r["id"].as_i64().unwrap(), r["name"].as_str().unwrap())
            })
            .collect();
        roles.sort_unstable();
        assert_eq!(roles, [(2, "user"), (3, "reviewer")]);
        assert_eq!(body["id"], json!(user.id));
    }
}
