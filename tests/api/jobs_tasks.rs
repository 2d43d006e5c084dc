//! The tasks API over the job queue: the client's data export from request to download, who may
//! see, cancel and download a task, admin-only endpoints, and a cleanup that never deletes a
//! record.

use std::time::{Duration, Instant};

use corpus_te::{
    db::jobs::{self as queue, NewJob},
    jobs::{Registry, worker::Worker},
};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::{
    helpers::{TestApp, accounts::TestUser, send},
    jobs_queue::{fast_jobs, start_worker, state_of},
    records_crud::category,
    records_upload::upload,
};

/// Polls `GET /tasks/status/{id}` as `user` until the task has ended.
pub async fn poll_until_done(app: &TestApp, user: &TestUser, task_id: &str) -> Value {
    let started = Instant::now();
    loop {
        let (status, body) = send(app.get(&format!("/api/v1/tasks/status/{task_id}")).bearer_auth(&user.token)).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["task_id"], task_id);
        if ["SUCCESS", "FAILURE", "REVOKED"].contains(&body["status"].as_str().unwrap()) {
            return body;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "task {task_id} did not end: {body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The path and query of an absolute or relative URL.
pub fn path_of(url: &str) -> &str {
    url.find("/api/").map(|i| &url[i..]).unwrap()
}

#[tokio::test]
async fn the_clients_data_export_reaches_success_with_a_link_only_its_owner_and_admins_can_use() {
    let app = TestApp::spawn_with(fast_jobs).await;
    let (_, stop, worker) = start_worker(&app);
    let owner = app.contributor().await;
    let other = app.contributor().await;
    let admin = app.admin().await;
    let published = category(&app, "stories").await;
    let category_id = published.to_string();
    let (status, record) = upload(
        &app,
        &owner,
        &[("title", "కథ, \"one\""), ("category_id", &category_id), ("media_type", "text"), ("language", "te")],
        Some(("file", "story.txt", "ఒకప్పుడు ఒక ఊరిలో".as_bytes())),
    )
    .await;
    assert!(status == 200 || status == 201, "{record}");

    // The client's exact call.
    let (status, task) = send(app.post("/api/v1/tasks/export-data?export_format=json").bearer_auth(&owner.token)).await;
    assert_eq!(status, 200, "{task}");
    assert_eq!(task["task_name"], "export_user_data");
    assert_eq!(task["status"], "PENDING");
    assert_eq!(task["message"], "Data export started");
    let task_id = task["task_id"].as_str().unwrap().to_owned();

    // Nobody else sees the task.
    let (status, _) = send(app.get(&format!("/api/v1/tasks/status/{task_id}")).bearer_auth(&other.token)).await;
    assert_eq!(status, 404);

    let done = poll_until_done(&app, &owner, &task_id).await;
    assert_eq!(done["status"], "SUCCESS", "{done}");
    assert_eq!(done["traceback"], Value::Null);
    let result = &done["result"];
    assert_eq!(result["record_count"], 1);
    assert_eq!(done["progress"], *result, "as the original: progress repeats a dict result");
    let link = path_of(result["download_url"].as_str().unwrap()).to_owned();

    let response = app.get(&link).bearer_auth(&owner.token).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-disposition"].to_str().unwrap().starts_with("attachment"));
    let exported: Value = response.json().await.unwrap();
    assert_eq!(exported["user"]["id"], owner.id.to_string());
    assert_eq!(exported["roles"][0]["name"], "user");
    let records = exported["records"].as_array().unwrap();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0]["uid"], record["uid"]);
    assert_eq!(records[0]["title"], "కథ, \"one\"");
    assert_eq!(records[0]["language"], "te");
    assert_eq!(records[0]["content_sha256"], record["content_sha256"]);

    // An admin may download it too; another user, an anonymous caller, or an altered or
    // expired link may not.
    let (status, _) = send(app.get(&link).bearer_auth(&admin.token)).await;
    assert_eq!(status, 200);
    let (status, _) = send(app.get(&link).bearer_auth(&other.token)).await;
    assert_eq!(status, 404);
    let (status, _) = send(app.get(&link)).await;
    assert_eq!(status, 403);
    let tampered = link.replace("expires=", "expires=1");
    let (status, body) = send(app.get(&tampered).bearer_auth(&owner.token)).await;
    assert_eq!((status, body["detail"].as_str()), (403, Some("Invalid link signature")));
    let (status, _) =
        send(app.get(&link.replace("file=user_data.json", "file=../secret")).bearer_auth(&owner.token)).await;
    assert_eq!(status, 404);

    // CSV: the records as CSV too, with the same guarantees.
    let (status, task) = send(app.post("/api/v1/tasks/export-data?export_format=csv").bearer_auth(&owner.token)).await;
    assert_eq!(status, 200);
    let done = poll_until_done(&app, &owner, task["task_id"].as_str().unwrap()).await;
    assert_eq!(done["status"], "SUCCESS", "{done}");
    let csv = done["result"]["files"].as_array().unwrap().iter().find(|f| f["name"] == "records.csv").unwrap().clone();
    let text = app.get(path_of(csv["download_url"].as_str().unwrap())).bearer_auth(&owner.token).send().await.unwrap();
    assert_eq!(text.status(), 200);
    let text = text.text().await.unwrap();
    let lines: Vec<&str> = text.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert!(lines[0].starts_with("uid,title,"), "{text}");
    assert_eq!(lines.len(), 2, "{text}");
    assert!(lines[1].contains("\"కథ, \"\"one\"\"\""), "quoted as CSV: {}", lines[1]);

    // An unknown format is refused before anything is queued.
    let (status, _) = send(app.post("/api/v1/tasks/export-data?export_format=xml").bearer_auth(&owner.token)).await;
    assert_eq!(status, 422);
    // The export files are the service's own and not orphans while their job is held.
    let exported_files = std::fs::read_dir(app.storage_dir.path().join("exports")).unwrap().count();
    assert_eq!(exported_files, 2);
    // An admin's dataset export under exports/ is no orphan either.
    let dataset = app.storage_dir.path().join("exports/dataset-20261206T000000Z-abcdef12/manifest.csv");
    std::fs::create_dir_all(dataset.parent().unwrap()).unwrap();
    std::fs::write(&dataset, b"id\n").unwrap();
    let storage = corpus_te::storage::Storage::from_config(&app.config).unwrap();
    let orphans = corpus_te::ops::audit::find_orphans(app.pool(), &storage, Duration::ZERO).await.unwrap();
    assert!(orphans.orphans.is_empty(), "{:?}", orphans.orphans);
    let listed = storage.list_owned().await.unwrap();
    assert_eq!(listed.objects.iter().filter(|o| o.key.starts_with("exports/")).count(), 4, "every export file listed");
    stop.cancel();
    worker.await.unwrap();
}

#[tokio::test]
async fn task_status_never_fails_and_only_owners_and_admins_cancel() {
    let app = TestApp::spawn_with(fast_jobs).await;
    let owner = app.contributor().await;
    let other = app.contributor().await;
    let admin = app.admin().await;
    let failing = queue::enqueue(
        app.pool(),
        &NewJob {
            kind: "noop",
            args: json!({"fail": "the bytes were not there"}),
            owner: Some(owner.id),
            max_attempts: 1,
        },
    )
    .await
    .unwrap();
    let worker = Worker::new(state_of(&app), Registry::standard());
    assert!(worker.run_next().await.unwrap());
    let (status, body) = send(app.get(&format!("/api/v1/tasks/status/{failing}")).bearer_auth(&owner.token)).await;
    assert_eq!(status, 200);
    assert_eq!(body["status"], "FAILURE");
    assert_eq!(body["traceback"], "the bytes were not there");
    assert_eq!(body["result"], Value::Null);
    // Unknown and malformed ids: 404, never 500.
    for id in [Uuid::new_v4().to_string(), "not-a-task".to_owned(), "42".to_owned()] {
        let (status, _) = send(app.get(&format!("/api/v1/tasks/status/{id}")).bearer_auth(&owner.token)).await;
        assert_eq!(status, 404, "{id}");
    }

    let pending =
        queue::enqueue(app.pool(), &NewJob { kind: "noop", args: json!({}), owner: Some(owner.id), max_attempts: 1 })
            .await
            .unwrap();
    let (status, _) = send(app.delete(&format!("/api/v1/tasks/cancel/{pending}")).bearer_auth(&other.token)).await;
    assert_eq!(status, 404, "another user cannot cancel it");
    let (status, body) = send(app.delete(&format!("/api/v1/tasks/cancel/{pending}")).bearer_auth(&owner.token)).await;
    assert_eq!(status, 200);
    assert_eq!(body["message"], format!("Task {pending} cancellation requested"));
    let (_, body) = send(app.get(&format!("/api/v1/tasks/status/{pending}")).bearer_auth(&admin.token)).await;
    assert_eq!(body["status"], "REVOKED");
    assert!(!worker.run_next().await.unwrap(), "a revoked job never runs");
}

#[tokio::test]
async fn admin_only_tasks_really_check_the_admin_role_and_lists_show_real_jobs() {
    let app = TestApp::spawn_with(fast_jobs).await;
    let user = app.contributor().await;
    let reviewer = app.reviewer().await;
    let admin = app.admin().await;
    let admin_posts = [
        ("/api/v1/tasks/maintenance/cleanup", "cleanup_old_files"),
        ("/api/v1/tasks/maintenance/optimize-db", "optimize_database"),
        ("/api/v1/tasks/maintenance/health-check", "health_check"),
        ("/api/v1/tasks/reports/daily", "generate_daily_report"),
    ];
    for (path, name) in admin_posts {
        for caller in [&user, &reviewer] {
            let (status, body) = send(app.post(path).bearer_auth(&caller.token)).await;
            assert_eq!((status, body["detail"].as_str()), (403, Some("Admin access required")), "{path}");
        }
        let (status, body) = send(app.post(path).bearer_auth(&admin.token)).await;
        assert_eq!(status, 200, "{path}: {body}");
        assert_eq!(body["task_name"], name);
    }
    for path in ["/api/v1/tasks/active", "/api/v1/tasks/scheduled", "/api/v1/tasks/statistics"] {
        let (status, _) = send(app.get(path).bearer_auth(&user.token)).await;
        assert_eq!(status, 403, "{path}");
    }
    // Nothing runs yet: the four jobs wait.
    let (status, scheduled) = send(app.get("/api/v1/tasks/scheduled").bearer_auth(&admin.token)).await;
    assert_eq!(status, 200);
    assert_eq!(scheduled["total_count"], 4, "{scheduled}");
    let (_, active) = send(app.get("/api/v1/tasks/active").bearer_auth(&admin.token)).await;
    assert_eq!(active["total_count"], 0);

    // They run, and their results are real.
    let worker = Worker::new(state_of(&app), Registry::standard());
    while worker.run_next().await.unwrap() {}
    let jobs = queue::list(app.pool(), None, None, None, 10).await.unwrap();
    assert!(jobs.iter().all(|j| j.state == "SUCCESS"), "{jobs:#?}");
    let health = jobs.iter().find(|j| j.kind == "health_check").unwrap();
    assert_eq!(health.result.as_ref().unwrap()["health_status"]["database"], "healthy");

    // The user's own report; someone else's only for admins.
    let (status, _) = send(app.post("/api/v1/tasks/reports/user").bearer_auth(&user.token)).await;
    assert_eq!(status, 200);
    let other = format!("/api/v1/tasks/reports/user?target_user_id={}", reviewer.id);
    let (status, _) = send(app.post(&other).bearer_auth(&user.token)).await;
    assert_eq!(status, 403);
    let (status, _) = send(app.post(&other).bearer_auth(&admin.token)).await;
    assert_eq!(status, 200);
    // Placeholders answer a clear 400, e-mail too (after the admin check).
    let (status, body) =
        send(app.post(&format!("/api/v1/tasks/analyze-content/{}", Uuid::new_v4())).bearer_auth(&user.token)).await;
    assert_eq!(status, 400, "{body}");
    let (status, _) = send(app.post("/api/v1/tasks/system-alert").bearer_auth(&user.token)).await;
    assert_eq!(status, 403);
    let (status, _) = send(app.post("/api/v1/tasks/system-alert").bearer_auth(&admin.token)).await;
    assert_eq!(status, 400);
    // Integer record ids (the original's type) name no record.
    let (status, _) = send(app.post("/api/v1/tasks/process-audio/42").bearer_auth(&user.token)).await;
    assert_eq!(status, 404);
    let (status, stats) = send(app.get("/api/v1/tasks/statistics").bearer_auth(&admin.token)).await;
    assert_eq!(status, 200);
    assert!(stats["total"]["records"].is_number(), "{stats}");
}

#[tokio::test]
async fn cleanup_never_deletes_a_record_or_its_file_whatever_its_status_or_age() {
    let app = TestApp::spawn_with(fast_jobs).await;
    let owner = app.contributor().await;
    let cat = category(&app, "everything").await;
    let statuses =
        ["pending", "uploaded", "generating", "generated", "generation_failed", "approved", "rejected", "odd"];
    let ages = ["0 seconds", "2 days", "45 days", "3 years"];
    let mut keys = Vec::new();
    for status in statuses {
        for age in ages {
            let uid = Uuid::new_v4();
            let key = format!("text/{uid}.txt");
            let path = app.storage_dir.path().join(&key);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, b"kept").unwrap();
            sqlx::query(&format!(
                "INSERT INTO record (uid, user_id, category_id, title, media_type, status, object_key, file_size,
                                     created_at, updated_at)
                 VALUES ($1, $2, $3, 't', 'text', $4, $5, 4, now() - interval '{age}', now() - interval '{age}')"
            ))
            .bind(uid)
            .bind(owner.id)
            .bind(cat)
            .bind(status)
            .bind(&key)
            .execute(app.pool())
            .await
            .unwrap();
            keys.push(key);
        }
    }
    // A finished job past its retention is purged with the cleanup.
    let expired = queue::enqueue(app.pool(), &NewJob { kind: "noop", args: json!({}), owner: None, max_attempts: 1 })
        .await
        .unwrap();
    sqlx::query("UPDATE jobs SET state = 'SUCCESS', expires_at = now() - interval '1 minute' WHERE id = $1")
        .bind(expired)
        .execute(app.pool())
        .await
        .unwrap();
    // Export files: those of a job still held stay, those whose job is gone go once an hour old.
    let held = queue::enqueue(app.pool(), &NewJob { kind: "noop", args: json!({}), owner: None, max_attempts: 1 })
        .await
        .unwrap();
    let two_hours_ago = std::time::SystemTime::now() - Duration::from_secs(7200);
    let export = |job: Uuid, old: bool| {
        let path = app.storage_dir.path().join(format!("exports/{job}/user_data.json"));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, b"{}").unwrap();
        if old {
            std::fs::File::options().write(true).open(&path).unwrap().set_modified(two_hours_ago).unwrap();
        }
        path
    };
    let kept_export = export(held, true);
    let young_orphan = export(Uuid::new_v4(), false);
    let old_orphan = export(Uuid::new_v4(), true);
    let cleanup =
        queue::enqueue(app.pool(), &NewJob { kind: "cleanup", args: json!({}), owner: None, max_attempts: 1 })
            .await
            .unwrap();
    let worker = Worker::new(state_of(&app), Registry::standard());
    while worker.run_next().await.unwrap() {}
    let job = queue::get(app.pool(), cleanup).await.unwrap().unwrap();
    assert_eq!(job.state, "SUCCESS", "{job:?}");
    assert_eq!(job.result.as_ref().unwrap()["records_deleted"], 0);
    assert!(queue::get(app.pool(), expired).await.unwrap().is_none(), "expired results are purged");
    let records: i64 = sqlx::query_scalar("SELECT count(*) FROM record").fetch_one(app.pool()).await.unwrap();
    assert_eq!(records as usize, statuses.len() * ages.len(), "every record is kept");
    for key in keys {
        assert!(app.storage_dir.path().join(&key).exists(), "{key} is kept");
    }
    assert_eq!(job.result.as_ref().unwrap()["export_files_removed"], 1);
    assert!(kept_export.exists() && young_orphan.exists(), "held or recent export files stay");
    assert!(!old_orphan.exists(), "an old export file whose job is gone is removed");
}

#[tokio::test]
async fn an_upload_whose_duration_could_not_be_read_inline_gets_a_media_facts_job_in_its_transaction() {
    let app = TestApp::spawn_with(fast_jobs).await;
    let user = app.contributor().await;
    let cat = category(&app, "clips").await.to_string();
    let mut uids = Vec::new();
    // No parser reads AVI durations; MP3 is timed inline.
    for (name, media_type) in [("clip.avi", "video"), ("cbr.mp3", "audio")] {
        let bytes = crate::records_upload::fixture(name);
        let fields = [("title", name), ("category_id", cat.as_str()), ("media_type", media_type)];
        let (status, record) = upload(&app, &user, &fields, Some(("file", name, &bytes))).await;
        assert!(status == 200 || status == 201, "{record}");
        uids.push((name, record["uid"].as_str().unwrap().to_owned(), record["duration_seconds"].clone()));
    }
    let jobs = queue::list(app.pool(), None, Some("media_facts"), None, 10).await.unwrap();
    let timed_inline: Vec<_> = uids.iter().filter(|(_, _, d)| !d.is_null()).map(|(_, uid, _)| uid.clone()).collect();
    let untimed: Vec<_> = uids.iter().filter(|(_, _, d)| d.is_null()).map(|(_, uid, _)| uid.clone()).collect();
    assert_eq!((untimed.len(), timed_inline.len()), (1, 1), "{uids:?}");
    assert_eq!(jobs.len(), 1, "one job for the record left untimed: {uids:?}");
    for job in &jobs {
        let record = job.args["record_id"].as_str().unwrap().to_owned();
        assert!(untimed.contains(&record) && !timed_inline.contains(&record));
        assert_eq!(job.owner, Some(user.id));
    }
    let worker = Worker::new(state_of(&app), Registry::standard());
    while worker.run_next().await.unwrap() {}
    for job in queue::list(app.pool(), None, Some("media_facts"), None, 10).await.unwrap() {
        assert_eq!(job.state, "SUCCESS", "{job:?}");
        assert_eq!(job.result.unwrap()["status"], "success");
    }
}
