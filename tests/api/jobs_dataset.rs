//! The dataset export as a task: an admin starts it through `POST /tasks/export-dataset`, a worker
//! runs it, and its files (downloaded through the signed links) match the database and the
//! stored objects; filters are validated; only admins start one, and only admins download it.
//! The console's exports page does the same by form.

use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::{
    exports_dataset::{check_export, jsonl, sha256},
    helpers::{
        TestApp,
        accounts::TestUser,
        console::{ConsoleClient, csrf_of},
        send,
    },
    jobs_queue::{fast_jobs, start_worker},
    jobs_tasks::{path_of, poll_until_done},
    ops_backup::seed,
};

/// Downloads the file `name` of a finished export's `result` as `user`: (status, bytes).
async fn download(app: &TestApp, user: &TestUser, result: &Value, name: &str) -> (u16, Vec<u8>) {
    let file = result["files"].as_array().unwrap().iter().find(|f| f["name"] == name).unwrap_or_else(|| {
        panic!("{name} in {result}");
    });
    let response =
        app.get(path_of(file["download_url"].as_str().unwrap())).bearer_auth(&user.token).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.bytes().await.unwrap().to_vec())
}

#[tokio::test]
async fn jobs_dataset_export_through_the_tasks_api_matches_the_database_and_the_objects() {
    let app = TestApp::spawn_with(fast_jobs).await;
    let (_, stop, worker) = start_worker(&app);
    seed(&app).await;
    let admin = app.admin().await;
    let other_admin = app.admin().await;
    let contributor = app.contributor().await;

    // Only admins start one.
    let (status, _) =
        send(app.post("/api/v1/tasks/export-dataset").bearer_auth(&contributor.token).json(&json!({}))).await;
    assert_eq!(status, 403);
    // Bad filters are refused in the validation shape, field by field.
    for (body, field) in [
        (json!({"bbox": [78.0, 17.0, 79.0]}), json!(["body", "bbox"])),
        (json!({"bbox": [79.0, 17.0, 78.0, 18.0]}), json!(["body", "bbox"])),
        (json!({"media_types": ["audio", "sound"]}), json!(["body", "media_types", "1"])),
        (json!({"review_status": ["maybe"]}), json!(["body", "review_status", "0"])),
        (json!({"from": "yesterday"}), json!(["body", "from"])),
        (json!({"from": "2026-02-01", "to": "2026-01-01"}), json!(["body", "to"])),
    ] {
        let (status, answer) =
            send(app.post("/api/v1/tasks/export-dataset").bearer_auth(&admin.token).json(&body)).await;
        assert_eq!(status, 422, "{body}: {answer}");
        assert_eq!(answer["errors"][0]["loc"], field, "{body}: {answer}");
    }
    let jobs: i64 = sqlx::query_scalar("SELECT count(*) FROM jobs WHERE kind = 'export_dataset'")
        .fetch_one(app.pool())
        .await
        .unwrap();
    assert_eq!(jobs, 0, "refused requests queue nothing");

    // Everything.
    let (status, task) =
        send(app.post("/api/v1/tasks/export-dataset").bearer_auth(&admin.token).json(&json!({}))).await;
    assert_eq!(status, 200, "{task}");
    assert_eq!((task["task_name"].as_str(), task["status"].as_str()), (Some("export_dataset"), Some("PENDING")));
    let task_id = task["task_id"].as_str().unwrap().to_owned();
    let done = poll_until_done(&app, &admin, &task_id).await;
    assert_eq!(done["status"], "SUCCESS", "{done}");
    let result = &done["result"];
    let total: i64 = sqlx::query_scalar("SELECT count(*) FROM record").fetch_one(app.pool()).await.unwrap();
    assert_eq!(result["records"], total, "{result}");
    assert_eq!(result["problems"], json!([]));
    assert!(result["download_url"].is_string(), "{result}");
    let names: Vec<&str> = result["files"].as_array().unwrap().iter().map(|f| f["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["media.tar", "manifest.jsonl", "manifest.csv"]);

    let (status, manifest) = download(&app, &admin, result, "manifest.jsonl").await;
    assert_eq!(status, 200);
    let (status, csv) = download(&app, &admin, result, "manifest.csv").await;
    assert_eq!(status, 200);
    let (status, archive) = download(&app, &admin, result, "media.tar").await;
    assert_eq!(status, 200);
    let tar_file = result["files"].as_array().unwrap().iter().find(|f| f["name"] == "media.tar").unwrap();
    assert_eq!(tar_file["size"].as_u64(), Some(archive.len() as u64));
    assert_eq!(tar_file["content_type"], "application/x-tar");
    let root = app.storage_dir.path().to_owned();
    let listed =
        check_export(app.pool(), &manifest, &csv, &archive, |key| std::fs::read(root.join(key)).unwrap()).await;
    assert_eq!(listed.len() as i64, total);
    // The files are the job's own, under exports/<job id>/.
    assert_eq!(std::fs::read(root.join(format!("exports/{task_id}/media.tar"))).unwrap(), archive);
    // While the job is held, the storage audit counts them as referenced, even when old.
    let storage = corpus_te::storage::Storage::from_config(&app.config).unwrap();
    let report = corpus_te::ops::audit::find_orphans(app.pool(), &storage, std::time::Duration::ZERO).await.unwrap();
    assert!(report.orphans.iter().all(|o| !o.key.contains(&task_id)), "{:?}", report.orphans);

    // Another admin may download it; a contributor may not even see it.
    assert_eq!(download(&app, &other_admin, result, "media.tar").await.0, 200);
    assert_eq!(download(&app, &contributor, result, "manifest.jsonl").await.0, 404);
    let (status, _) = send(app.get(&format!("/api/v1/tasks/status/{task_id}")).bearer_auth(&contributor.token)).await;
    assert_eq!(status, 404);

    // A filter selects what it says.
    let (status, task) = send(
        app.post("/api/v1/tasks/export-dataset").bearer_auth(&admin.token).json(&json!({"media_types": ["audio"]})),
    )
    .await;
    assert_eq!(status, 200, "{task}");
    let done = poll_until_done(&app, &admin, task["task_id"].as_str().unwrap()).await;
    assert_eq!(done["status"], "SUCCESS", "{done}");
    let audio: i64 = sqlx::query_scalar("SELECT count(*) FROM record WHERE media_type = 'audio'")
        .fetch_one(app.pool())
        .await
        .unwrap();
    assert!(audio > 0);
    let rows = jsonl(&download(&app, &admin, &done["result"], "manifest.jsonl").await.1);
    assert_eq!(rows.len() as i64, audio);
    assert!(rows.iter().all(|r| r["media_type"] == "audio"), "{rows:?}");

    stop.cancel();
    worker.await.unwrap();
}

/// The console's exports page: an admin starts an export by form, the page refreshes while it
/// runs and then links its files through the console (the session's identity, no token); a
/// running export can be cancelled; bad filters are refused; a contributor cannot download.
#[tokio::test]
async fn jobs_dataset_console_exports_page_starts_lists_downloads_and_cancels() {
    let app = TestApp::spawn_with(fast_jobs).await;
    seed(&app).await;
    let admin = app.admin().await;
    let contributor = app.contributor().await;
    let mut console = ConsoleClient::signed_in(&app, &admin.phone).await;
    let (status, _, page) = console.get("/console/admin/exports").await;
    assert_eq!(status, 200);
    assert!(page.contains("id=\"export-form\""), "{page}");
    assert!(!page.contains("http-equiv=\"refresh\""), "nothing runs: no refresh");
    let token = csrf_of(&page);

    // Bad filters: refused, nothing queued.
    for form in [[("bbox", "1,2,3")], [("from", "yesterday")], [("media_type", "sound")]] {
        let mut fields = vec![("csrf", token.as_str())];
        fields.extend(form);
        let (status, _, body) = console.post("/console/admin/exports", &fields).await;
        assert_eq!(status, 422, "{form:?}: {body}");
    }
    // Audio only, with no worker yet: queued, the page refreshes itself and offers a cancel.
    let (status, location, body) =
        console.post("/console/admin/exports", &[("csrf", &token), ("media_type", "audio"), ("languages", "")]).await;
    assert_eq!((status.as_u16(), location.as_str()), (303, "/console/admin/exports"), "{body}");
    let (id, args): (Uuid, Value) =
        sqlx::query_as("SELECT id, args FROM jobs WHERE kind = 'export_dataset'").fetch_one(app.pool()).await.unwrap();
    assert_eq!(args["selection"]["media_types"], json!(["audio"]));
    let (_, _, page) = console.get("/console/admin/exports").await;
    assert!(page.contains("http-equiv=\"refresh\""), "{page}");
    assert!(page.contains(&format!("/console/admin/exports/{id}/cancel")), "{page}");

    // Cancelled before it ran.
    let (status, _, _) = console.post(&format!("/console/admin/exports/{id}/cancel"), &[("csrf", &token)]).await;
    assert_eq!(status, 303);
    let state: String =
        sqlx::query_scalar("SELECT state FROM jobs WHERE id = $1").bind(id).fetch_one(app.pool()).await.unwrap();
    assert_eq!(state, "REVOKED");

    // Again, with a worker: it ends in SUCCESS, with links through the console.
    let (_, stop, worker) = start_worker(&app);
    let (status, _, _) = console.post("/console/admin/exports", &[("csrf", &token), ("media_type", "audio")]).await;
    assert_eq!(status, 303);
    let id: Uuid = sqlx::query_scalar("SELECT id FROM jobs WHERE kind = 'export_dataset' AND state <> 'REVOKED'")
        .fetch_one(app.pool())
        .await
        .unwrap();
    poll_until_done(&app, &admin, &id.to_string()).await;
    let (_, _, page) = console.get("/console/admin/exports").await;
    assert!(!page.contains("http-equiv=\"refresh\""), "{page}");
    let link_of = |file: &str| {
        let prefix = format!("/console/api/tasks/exports/{id}/download?file={file}");
        let at = page.find(&prefix).unwrap_or_else(|| panic!("a {file} link in {page}"));
        page[at..].split('"').next().unwrap().replace("&#38;", "&").replace("&amp;", "&")
    };
    let link = link_of("manifest.jsonl");
    let response = console.send(console.request(Method::GET, &link)).await;
    assert_eq!(response.status(), 200, "{link}");
    let rows = jsonl(&response.bytes().await.unwrap());
    let audio: i64 = sqlx::query_scalar("SELECT count(*) FROM record WHERE media_type = 'audio'")
        .fetch_one(app.pool())
        .await
        .unwrap();
    assert_eq!(rows.len() as i64, audio);
    let tar_link = link_of("media.tar");
    let response = console.send(console.request(Method::GET, &tar_link)).await;
    assert_eq!(response.status(), 200);
    let archive = response.bytes().await.unwrap();
    let stored = std::fs::read(app.storage_dir.path().join(format!("exports/{id}/media.tar"))).unwrap();
    assert_eq!(sha256(&archive), sha256(&stored));
    // Someone else's session with the same link: the API refuses it.
    let mut other = ConsoleClient::signed_in(&app, &contributor.phone).await;
    assert_eq!(other.send(other.request(Method::GET, &link)).await.status(), 404);
    let mut anonymous = ConsoleClient::new(&app);
    assert_eq!(anonymous.send(anonymous.request(Method::GET, &link)).await.status(), 401);

    stop.cancel();
    worker.await.unwrap();
}
