//! Two replicas of the API on one database and one bucket (the S3 test server), as a load
//! balancer would use them: a resumable upload may send each chunk to either replica and finalise
//! on either; both replicas' maintenance sweeps may run at once without deleting live data; review
//! leases and rate limits hold across replicas.

use corpus_te::{config::Config, jobs::maintenance, state::AppState};
use serde_json::json;
use uuid::Uuid;

use crate::{
    helpers::{TestApp, send, sms::FakeSms},
    records_crud::category,
    records_upload::{S3_KEY, S3_SECRET, S3Server, chunk, fixture, multipart, spawn_s3},
};

/// Points a configuration at the S3 test server.
fn on_s3(s3: &S3Server) -> impl FnOnce(&mut Config) {
    let endpoint = format!("http://{}", s3.addr);
    move |c: &mut Config| {
        c.storage.storage_backend = Some(corpus_te::config::StorageBackend::S3);
        c.storage.hz_obj_endpoint = Some(endpoint);
        c.storage.hz_obj_access_key = Some(S3_KEY.into());
        c.storage.hz_obj_secret_key = Some(S3_SECRET.into());
        c.storage.hz_obj_bucket_name = "corpus-data".into();
        c.storage.hz_obj_use_ssl = "false".into();
    }
}

/// Every object key in the bucket.
fn bucket_keys(s3: &S3Server) -> Vec<String> {
    let bucket = s3.root.path().join("corpus-data");
    let mut keys = Vec::new();
    let mut dirs = vec![bucket.clone()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else {
                keys.push(path.strip_prefix(&bucket).unwrap().to_string_lossy().into_owned());
            }
        }
    }
    keys.sort();
    keys
}

fn state_of(app: &TestApp) -> AppState {
    AppState::new(app.config.clone(), app.pool().clone()).unwrap()
}

#[tokio::test]
async fn a_chunked_upload_spread_over_two_replicas_finalises_on_either_and_concurrent_sweeps_keep_it() {
    let s3 = spawn_s3().await;
    let a = TestApp::spawn_with(on_s3(&s3)).await;
    let b = a.spawn_replica(on_s3(&s3)).await;
    let user = a.contributor().await;
    let cat = category(&a, "video").await.to_string();
    let bytes = fixture("clip.mp4");
    let parts: Vec<&[u8]> = bytes.chunks(bytes.len() / 4 + 1).collect();
    assert_eq!(parts.len(), 4);

    // An upload abandoned long ago (its chunk is in the bucket), for the sweeps to remove.
    let abandoned = Uuid::new_v4();
    let (status, body) = chunk(&b, &user, abandoned, 0, 2, parts[0]).await;
    assert_eq!(status, 200, "{body}");
    sqlx::query("UPDATE upload_session SET updated_at = now() - interval '30 days' WHERE upload_uuid = $1")
        .bind(abandoned)
        .execute(a.pool())
        .await
        .unwrap();

    // Chunks alternate between the replicas.
    let live = Uuid::new_v4();
    for (i, part) in parts.iter().enumerate() {
        let replica = if i % 2 == 0 { &a } else { &b };
        let (status, body) = chunk(replica, &user, live, i, parts.len(), part).await;
        assert_eq!(status, 200, "chunk {i}: {body}");
        if i == 1 {
            // Both replicas sweep at once while the upload is half done.
            let (sa, sb) = (state_of(&a), state_of(&b));
            let (ra, rb) = tokio::join!(maintenance::sweep(&sa), maintenance::sweep(&sb));
            let removed: u64 = [ra.unwrap(), rb.unwrap()].into_iter().flatten().map(|r| r.uploads).sum();
            assert_eq!(removed, 1, "exactly the abandoned upload is removed, once");
        }
    }
    let keys = bucket_keys(&s3);
    assert!(!keys.iter().any(|k| k.contains(&abandoned.to_string())), "{keys:?}");
    assert_eq!(keys.iter().filter(|k| k.contains(&live.to_string())).count(), 4, "{keys:?}");

    // Either replica sees the whole upload; the other finalises it.
    let (status, st) =
        send(b.get(&format!("/api/v1/records/upload/{live}/status")).header("Authorization", user.bearer())).await;
    assert_eq!((status, &st["complete"]), (200, &json!(true)), "{st}");
    let form = [
        ("title", "రెండు"),
        ("category_id", cat.as_str()),
        ("media_type", "video"),
        ("upload_uuid", &live.to_string()),
        ("filename", "clip.mp4"),
        ("total_chunks", "4"),
    ];
    let (ct, body) = multipart(&form, None);
    let (status, record) = send(
        b.post("/api/v1/records/upload").header("Authorization", user.bearer()).header("Content-Type", ct).body(body),
    )
    .await;
    assert_eq!(status, 201, "{record}");
    let uid = record["uid"].as_str().unwrap();
    let file =
        a.get(&format!("/api/v1/records/{uid}/file")).header("Authorization", user.bearer()).send().await.unwrap();
    assert_eq!(file.status(), 200);
    assert_eq!(file.bytes().await.unwrap().as_ref(), bytes.as_slice(), "the other replica serves the same bytes");

    // Sweeping again on both keeps the record and its object.
    let (sa, sb) = (state_of(&a), state_of(&b));
    let (ra, rb) = tokio::join!(maintenance::sweep(&sa), maintenance::sweep(&sb));
    let (ra, rb) = (ra.unwrap(), rb.unwrap());
    assert!(ra.is_some() || rb.is_some());
    let records: i64 = sqlx::query_scalar("SELECT count(*) FROM record").fetch_one(a.pool()).await.unwrap();
    assert_eq!(records, 1);
    let keys = bucket_keys(&s3);
    assert!(keys.iter().any(|k| k.starts_with("video/") && k.contains(uid)), "{keys:?}");
}

#[tokio::test]
async fn review_leases_are_shared_between_replicas() {
    let a = TestApp::spawn().await;
    let b = a.spawn_replica(|_| {}).await;
    let owner = a.contributor().await;
    let cat = category(&a, "texts").await;
    for i in 0..2 {
        sqlx::query(
            "INSERT INTO record (user_id, category_id, title, media_type, status) VALUES ($1, $2, $3, 'text', 'pending')",
        )
        .bind(owner.id)
        .bind(cat)
        .bind(format!("r{i}"))
        .execute(a.pool())
        .await
        .unwrap();
    }
    let (r1, r2) = (a.reviewer().await, a.reviewer().await);
    let claim = |app: &TestApp, bearer: String| {
        let request = app.get("/api/v1/records/review/queue?limit=2").header("Authorization", bearer);
        async move { send(request).await }
    };
    let (s1, q1) = claim(&a, r1.bearer()).await;
    assert_eq!(s1, 200, "{q1}");
    let (s2, q2) = claim(&b, r2.bearer()).await;
    assert_eq!(s2, 200, "{q2}");
    let first: Vec<&str> = q1.as_array().unwrap().iter().map(|r| r["uid"].as_str().unwrap()).collect();
    let second: Vec<&str> = q2.as_array().unwrap().iter().map(|r| r["uid"].as_str().unwrap()).collect();
    assert_eq!(first.len(), 2, "the first reviewer leased both");
    assert!(second.is_empty(), "the second replica must not hand out leased records: {second:?}");
}

#[tokio::test]
async fn rate_limits_in_redis_hold_across_replicas() {
    let url = "redis://127.0.0.1:6379";
    let prefix = format!("corpus-test-{}:", Uuid::new_v4().simple());
    let sms = FakeSms::start().await;
    let shared = |c: &mut Config| {
        sms.configure_ozonetel(c);
        c.limits.redis_url = Some(url.into());
        c.limits.redis_key_prefix = prefix.clone();
        c.otp.otp_ip_limit_per_hour = 2;
    };
    let a = TestApp::spawn_with(shared).await;
    let b = a.spawn_replica(shared).await;
    let users = [a.contributor().await, a.contributor().await, a.contributor().await];
    let mut statuses = Vec::new();
    for (user, app) in users.iter().zip([&a, &b, &a]) {
        let (status, _) = send(app.post("/api/v1/auth/send-otp").json(&json!({"phone_number": user.phone}))).await;
        statuses.push(status);
    }
    assert_eq!(statuses, [200, 200, 429], "the limit of 2 per address counts both replicas' sends");
    // The same phone cannot get a second code from the other replica within the minute.
    let (status, _) = send(b.post("/api/v1/auth/send-otp").json(&json!({"phone_number": users[0].phone}))).await;
    assert_eq!(status, 429);
    let client = redis::Client::open(url).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let keys: Vec<String> = redis::cmd("KEYS").arg(format!("{prefix}*")).query_async(&mut conn).await.unwrap();
    let _: () = redis::cmd("DEL").arg(&keys).query_async(&mut conn).await.unwrap();
}

/// Waits until replica `b` has handled every identity notification committed so far (creating a
/// user announces it too; one arriving late would drop an entry the test means to keep). One
/// listener takes notifications in commit order, so once a later change is seen, so were these.
async fn settle_notifications(a: &TestApp, b: &TestApp) {
    let probe = a.contributor().await;
    let me = || send(b.get("/api/v1/auth/me").header("Authorization", probe.bearer()));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    // Cached on B once its own creation notice has passed (until then a request may drop it).
    while me().await.0 != 200 {
        assert!(std::time::Instant::now() < deadline, "the probe user is not served by replica B");
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    sqlx::query(r#"UPDATE "user" SET is_active = false WHERE id = $1"#).bind(probe.id).execute(a.pool()).await.unwrap();
    while me().await.0 != 401 {
        assert!(std::time::Instant::now() < deadline, "replica B did not take the probe's notification");
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn identities_are_served_from_memory_and_changes_reach_the_other_replica() {
    let a = TestApp::spawn().await;
    let b = a.spawn_replica(|_| {}).await;
    a.until_listening().await;
    b.until_listening().await;
    let admin = a.admin().await;
    let user = a.reviewer().await;
    settle_notifications(&a, &b).await;
    let me = |app: &TestApp| {
        let request = app.get("/api/v1/auth/me").header("Authorization", user.bearer());
        async move { send(request).await }
    };
    let (status, before) = me(&b).await;
    assert_eq!(status, 200, "{before}");

    // A change that announces nothing (triggers off for this session): replica B keeps serving
    // the identity it holds, which shows it is not reading the database on every request.
    let mut quiet = a.pool().begin().await.unwrap();
    sqlx::query("SET LOCAL session_replication_role = replica").execute(&mut *quiet).await.unwrap();
    sqlx::query(r#"UPDATE "user" SET is_active = false WHERE id = $1"#)
        .bind(user.id)
        .execute(&mut *quiet)
        .await
        .unwrap();
    quiet.commit().await.unwrap();
    assert_eq!(me(&b).await.0, 200, "served from memory");
    assert_eq!(me(&a).await.0, 401, "replica A had not cached this user and reads the database");
    // Put back, quietly again.
    let mut quiet = a.pool().begin().await.unwrap();
    sqlx::query("SET LOCAL session_replication_role = replica").execute(&mut *quiet).await.unwrap();
    sqlx::query(r#"UPDATE "user" SET is_active = true WHERE id = $1"#)
        .bind(user.id)
        .execute(&mut *quiet)
        .await
        .unwrap();
    quiet.commit().await.unwrap();

    // A role removal through replica A takes effect there on the next request, and on replica B
    // as soon as the notification arrives.
    let reviewer_role: i32 =
        sqlx::query_scalar("SELECT id FROM role WHERE name = 'reviewer'").fetch_one(a.pool()).await.unwrap();
    let (status, body) = send(
        a.delete(&format!("/api/v1/users/{}/roles/{reviewer_role}", user.id)).header("Authorization", admin.bearer()),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let queue = |app: &TestApp| {
        let request = app.get("/api/v1/records/review/queue").header("Authorization", user.bearer());
        async move { send(request).await.0 }
    };
    assert_eq!(queue(&a).await, 403, "the next request on the writing replica");
    let started = std::time::Instant::now();
    while queue(&b).await != 403 {
        assert!(started.elapsed() < std::time::Duration::from_secs(5), "replica B still grants the removed role");
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    eprintln!("role removal reached replica B after {:?}", started.elapsed());

    // Deactivation by plain SQL (as any tool would do it) is announced too.
    sqlx::query(r#"UPDATE "user" SET is_active = false WHERE id = $1"#).bind(user.id).execute(a.pool()).await.unwrap();
    let started = std::time::Instant::now();
    while me(&b).await.0 != 401 {
        assert!(started.elapsed() < std::time::Duration::from_secs(5), "replica B still lets a deactivated user in");
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn auth_me_answers_from_memory_and_shows_every_profile_change_on_both_replicas() {
    let a = TestApp::spawn().await;
    let b = a.spawn_replica(|_| {}).await;
    a.until_listening().await;
    b.until_listening().await;
    let admin = a.admin().await;
    let user = a.contributor().await;
    settle_notifications(&a, &b).await;
    let me = |app: &TestApp| {
        let request = app.get("/api/v1/auth/me").header("Authorization", user.bearer());
        async move { send(request).await }
    };
    // Both replicas hold the profile now.
    assert_eq!(me(&a).await.0, 200);
    assert_eq!(me(&b).await.0, 200);

    // A rename (by an admin) through replica A shows there on the next request, and on B within a second.
    let (status, body) = send(
        a.put(&format!("/api/v1/users/{}", user.id))
            .header("Authorization", admin.bearer())
            .json(&serde_json::json!({"name": "Renamed Contributor"})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (_, mine) = me(&a).await;
    assert_eq!(mine["name"], "Renamed Contributor", "the writing replica: {mine}");
    let started = std::time::Instant::now();
    loop {
        let (status, seen) = me(&b).await;
        assert_eq!(status, 200, "{seen}");
        if seen["name"] == "Renamed Contributor" {
            break;
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(1), "replica B still shows the old name: {seen}");
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }

    // A role's new description, set through A, shows in every holder's profile on both.
    let role: i32 = sqlx::query_scalar("SELECT id FROM role WHERE name = 'user'").fetch_one(a.pool()).await.unwrap();
    let (status, body) = send(
        a.put(&format!("/api/v1/roles/{role}"))
            .header("Authorization", admin.bearer())
            .json(&serde_json::json!({"description": "Contributes recordings"})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let shows = |profile: &serde_json::Value| {
        profile["roles"].as_array().unwrap().iter().any(|r| r["description"] == "Contributes recordings")
    };
    let (_, mine) = me(&a).await;
    assert!(shows(&mine), "the writing replica: {mine}");
    let started = std::time::Instant::now();
    while !shows(&me(&b).await.1) {
        assert!(started.elapsed() < std::time::Duration::from_secs(1), "replica B still shows the old description");
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }

    // A change by plain SQL to a column no request authenticates with (the e-mail) is announced too.
    sqlx::query(r#"UPDATE "user" SET email = 'renamed@example.org' WHERE id = $1"#)
        .bind(user.id)
        .execute(a.pool())
        .await
        .unwrap();
    let started = std::time::Instant::now();
    while me(&b).await.1["email"] != "renamed@example.org" {
        assert!(started.elapsed() < std::time::Duration::from_secs(1), "replica B still shows the old e-mail");
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
}
