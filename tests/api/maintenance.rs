//! The periodic maintenance sweep removes long-expired OTP rows and keeps everything else.

use corpus_te::{jobs::maintenance, state::AppState};

use crate::helpers::TestApp;

#[tokio::test]
async fn the_sweep_deletes_only_long_expired_otp_rows_and_no_user_content() {
    let app = TestApp::spawn().await;
    let user = app.contributor().await;
    let category: uuid::Uuid = sqlx::query_scalar("INSERT INTO category (name, title) VALUES ('c', 'C') RETURNING id")
        .fetch_one(app.pool())
        .await
        .unwrap();
    // An old pending record: the original's cleanup deleted these; ours must not.
    sqlx::query(
        "INSERT INTO record (user_id, category_id, title, media_type, status, created_at)
         VALUES ($1, $2, 'old pending', 'text', 'pending', now() - interval '90 days')",
    )
    .bind(user.id)
    .bind(category)
    .execute(app.pool())
    .await
    .unwrap();
    for (phone, expired) in [("+919000000001", "2 days"), ("+919000000002", "1 minute")] {
        sqlx::query(&format!(
            "INSERT INTO otp (phone_number, otp_hash, expires_at) VALUES ($1, 'h', now() - interval '{expired}')"
        ))
        .bind(phone)
        .execute(app.pool())
        .await
        .unwrap();
    }
    let state = AppState::new(app.config.clone(), app.pool().clone()).unwrap();
    let report = maintenance::sweep(&state).await.unwrap().expect("no other sweep is running");
    assert_eq!(report.otps, 1);
    let left: Vec<String> = sqlx::query_scalar("SELECT phone_number FROM otp").fetch_all(app.pool()).await.unwrap();
    assert_eq!(left, vec!["+919000000002"]);
    let records: i64 = sqlx::query_scalar("SELECT count(*) FROM record").fetch_one(app.pool()).await.unwrap();
    assert_eq!(records, 1, "user content is never deleted by maintenance");
}

/// With several replicas on one database, one sweep runs at a time: while another process holds
/// the sweep's lease, a sweep skips its turn (and deletes nothing); once it is released, the next
/// sweep runs.
#[tokio::test]
async fn only_one_process_sweeps_at_a_time() {
    let app = TestApp::spawn().await;
    sqlx::query(
        "INSERT INTO otp (phone_number, otp_hash, expires_at) VALUES ('+919000000001', 'h', now() - interval '2 days')",
    )
    .execute(app.pool())
    .await
    .unwrap();
    let state = AppState::new(app.config.clone(), app.pool().clone()).unwrap();
    // Another replica's sweep, holding the lease on its own connection.
    let mut other = app.pool().acquire().await.unwrap();
    assert!(corpus_te::db::maintenance::try_lead_sweep(&mut *other).await.unwrap());
    assert_eq!(maintenance::sweep(&state).await.unwrap(), None, "a second sweep must not run meanwhile");
    let otps: i64 = sqlx::query_scalar("SELECT count(*) FROM otp").fetch_one(app.pool()).await.unwrap();
    assert_eq!(otps, 1, "the skipped sweep deleted nothing");
    corpus_te::db::maintenance::end_sweep(&mut *other).await.unwrap();
    let report = maintenance::sweep(&state).await.unwrap().expect("the lease is free again");
    assert_eq!(report.otps, 1);
    // Its own lease is released at the end: the next sweep runs too.
    assert!(maintenance::sweep(&state).await.unwrap().is_some());
}
