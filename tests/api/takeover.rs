//! Taking over a database made by the original service: `corpus db init` upgrades it in place and
//! every row, password hash and OTP row survives.

use sqlx::{Connection, PgConnection, Row};

use crate::helpers::{TestDb, cli::run, options_for, unique_db_name};

const HEAD: &str = include_str!("../fixtures/original/head_118966d219d7.sql");
const EARLY: &str = include_str!("../fixtures/original/rev_8133bfd89d7c.sql");

/// A plain new database (PostGIS comes from template1) loaded with a fixture.
async fn original_database(fixture: &str) -> TestDb {
    let name = unique_db_name();
    let mut admin = PgConnection::connect_with(&options_for("postgres")).await.unwrap();
    sqlx::query(&format!("CREATE DATABASE {}", corpus_te::db::quote_ident(&name))).execute(&mut admin).await.unwrap();
    admin.close().await.unwrap();
    let mut conn = PgConnection::connect_with(&options_for(&name)).await.unwrap();
    sqlx::raw_sql(fixture).execute(&mut conn).await.expect("fixture loads");
    conn.close().await.unwrap();
    TestDb::existing(name).await
}

#[tokio::test]
async fn init_takes_over_the_originals_head_schema_keeping_every_row() {
    let db = original_database(HEAD).await;
    let dir = tempfile::tempdir().unwrap();
    let out = run(&db.url, dir.path(), &["db", "init"]);
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(out.stdout.contains("alembic revision 118966d219d7"), "{}", out.stdout);
    let pool = &db.pool;

    // Users: ids, raw phone, bcrypt hash, empty name, consent and timestamps (now timestamptz, same instant).
    let users = sqlx::query(
        r#"SELECT id::text, phone, name, email, hashed_password, is_active, has_given_consent,
                  to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') AS created,
                  to_char(last_login_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') AS last_login,
                  updated_at IS NOT NULL AS has_updated
           FROM "user" ORDER BY id"#,
    )
    .fetch_all(pool)
    .await
    .unwrap();
    assert_eq!(users.len(), 3);
    assert_eq!(users[0].get::<String, _>("phone"), "9000000003");
    assert_eq!(
        users[0].get::<String, _>("hashed_password"),
        "$2b$12$N3tVWcYxFrOHyAWnLqiRT.pxzBulVu2FXQAAtz8kU7ErpuHjRHmR6"
    );
    assert_eq!(users[0].get::<String, _>("created"), "2025-06-01 08:30:00.123456");
    assert_eq!(users[0].get::<String, _>("last_login"), "2025-07-01 10:00:00");
    assert_eq!(users[0].get::<Option<String>, _>("email").as_deref(), Some("legacy@example.com"));
    assert!(users[0].get::<bool, _>("has_given_consent"));
    assert_eq!(users[2].get::<String, _>("name"), "", "even the original's invalid rows are kept");
    assert!(!users[2].get::<bool, _>("is_active"));
    assert!(users.iter().all(|u| u.get::<bool, _>("has_updated")));
    let links: i64 = sqlx::query_scalar("SELECT count(*) FROM user_roles").fetch_one(pool).await.unwrap();
    assert_eq!(links, 4);

    // Categories.
    let categories: Vec<(String, bool, i32)> =
        sqlx::query_as("SELECT name, published, rank FROM category ORDER BY rank").fetch_all(pool).await.unwrap();
    assert_eq!(categories, vec![("fables".into(), true, 1), ("music".into(), false, 3)]);

    // Records: Telugu text, location, a size near the old int4 limit (now bigint), duration, the object key.
    let record = sqlx::query(
        "SELECT title, file_name, file_size, duration_seconds, object_key, reviewed, reviewed_by::text,
                ST_X(location) AS lon, ST_Y(location) AS lat,
                to_char(reviewed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') AS reviewed_at
         FROM record WHERE uid = 'cccccccc-cccc-4ccc-8ccc-cccccccccccc'",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(record.get::<String, _>("title"), "జానపద పాట");
    assert_eq!(record.get::<String, _>("file_name"), "పాట.mp3");
    assert_eq!(record.get::<i64, _>("file_size"), 2_147_483_000);
    assert_eq!(record.get::<i32, _>("duration_seconds"), 187);
    assert_eq!(record.get::<String, _>("object_key"), "audio/20250701_120000_deadbeef.mp3");
    assert_eq!(record.get::<f64, _>("lon"), 78.4867);
    assert_eq!(record.get::<f64, _>("lat"), 17.385);
    assert_eq!(record.get::<String, _>("reviewed_at"), "2025-07-02 04:30:00");
    assert_eq!(record.get::<String, _>("reviewed_by"), "33333333-3333-4333-8333-333333333333");
    let poison = sqlx::query(
        "SELECT title, ST_X(location) AS lon FROM record WHERE uid = 'dddddddd-dddd-4ddd-8ddd-dddddddddddd'",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(poison.get::<String, _>("title"), "");
    assert_eq!(poison.get::<f64, _>("lon"), 200.0);

    // OTP rows keep their hash and expiry, so codes sent just before the switch still verify.
    let otp = sqlx::query(
        "SELECT otp_hash, attempts, reference_id, to_char(expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') AS expires FROM otp",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(otp.get::<String, _>("otp_hash"), "ffdd52f8a0c5beb12032f428a885cbe3d167187012e1583c43ddfd0c12e52061");
    assert_eq!(otp.get::<i32, _>("attempts"), 1);
    assert_eq!(otp.get::<String, _>("expires"), "2025-07-01 10:05:00");
    assert_eq!(otp.get::<Option<String>, _>("reference_id").as_deref(), Some("ref-123"));

    // The schema is ours now.
    let types: Vec<(String, String)> = sqlx::query_as(
        "SELECT table_name || '.' || column_name, data_type FROM information_schema.columns
         WHERE table_schema = 'public' AND column_name IN ('created_at', 'file_size', 'expires_at') ORDER BY 1",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    for (column, data_type) in &types {
        let expected = if column.ends_with("file_size") { "bigint" } else { "timestamp with time zone" };
        assert_eq!(data_type, expected, "{column}");
    }
    let revision: String =
        sqlx::query_scalar("SELECT version_num FROM legacy_alembic_version").fetch_one(pool).await.unwrap();
    assert_eq!(revision, "118966d219d7");
    assert_eq!(run(&db.url, dir.path(), &["db", "status"]).code, 0);
    let again = run(&db.url, dir.path(), &["db", "init"]);
    assert_eq!(again.code, 0, "{}", again.all());
    let count: i64 = sqlx::query_scalar(r#"SELECT count(*) FROM "user""#).fetch_one(pool).await.unwrap();
    assert_eq!(count, 3);
}

#[tokio::test]
async fn init_takes_over_an_early_revision_moving_old_columns_into_new_ones() {
    let db = original_database(EARLY).await;
    let dir = tempfile::tempdir().unwrap();
    let out = run(&db.url, dir.path(), &["db", "init"]);
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(out.stdout.contains("alembic revision 8133bfd89d7c"), "{}", out.stdout);
    let rows = sqlx::query(
        "SELECT uid::text, title, media_type::text AS media, file_url, file_name, ST_X(location) AS lon, ST_Y(location) AS lat
         FROM record ORDER BY uid",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].get::<String, _>("title"), "moon_lullaby.mp3");
    assert_eq!(rows[0].get::<String, _>("media"), "audio");
    assert_eq!(rows[0].get::<String, _>("file_url"), "/files/songs/moon_lullaby.mp3");
    assert_eq!(rows[0].get::<f64, _>("lon"), 78.4983);
    assert_eq!(rows[0].get::<f64, _>("lat"), 17.4399);
    assert_eq!(rows[1].get::<String, _>("title"), "Untitled record");
    assert_eq!(rows[1].get::<String, _>("media"), "text");
    assert!(rows[1].get::<Option<f64>, _>("lon").is_none());
    let user = sqlx::query(r#"SELECT phone, hashed_password, has_given_consent FROM "user""#)
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(user.get::<String, _>("phone"), "9000000003");
    assert!(user.get::<String, _>("hashed_password").starts_with("$2b$12$"));
    assert!(!user.get::<bool, _>("has_given_consent"));
    let otp_table: bool =
        sqlx::query_scalar("SELECT to_regclass('public.otp') IS NOT NULL").fetch_one(&db.pool).await.unwrap();
    assert!(otp_table);
    assert_eq!(run(&db.url, dir.path(), &["db", "status"]).code, 0);
}

#[tokio::test]
async fn init_refuses_an_unknown_alembic_revision_and_changes_nothing() {
    let db = original_database(&HEAD.replace("VALUES ('118966d219d7')", "VALUES ('ffffffffffff')")).await;
    let dir = tempfile::tempdir().unwrap();
    let out = run(&db.url, dir.path(), &["db", "init"]);
    assert_ne!(out.code, 0);
    assert!(out.stderr.contains("unknown revision `ffffffffffff`"), "{}", out.all());
    let ours: bool = sqlx::query_scalar("SELECT to_regclass('public._sqlx_migrations') IS NOT NULL")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert!(!ours, "no migration may run on an unknown database");
}
