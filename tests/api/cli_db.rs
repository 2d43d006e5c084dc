//! `corpus db ...`, black-box: the real binary against real PostgreSQL databases.

use std::process::Stdio;

use sqlx::{Connection, PgConnection};

use crate::helpers::{
    cli::{corpus, run},
    drop_database_blocking, options_for, unique_db_name, url_for,
};

/// A database name that is dropped (if it was made) when the test ends.
struct FreshDb {
    name: String,
    url: String,
    dir: tempfile::TempDir,
}

impl FreshDb {
    fn new() -> Self {
        let name = unique_db_name();
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("data")).unwrap();
        Self { url: url_for(&name), name, dir }
    }

    fn storage(&self) -> std::path::PathBuf {
        self.dir.path().join("data")
    }

    fn run(&self, args: &[&str]) -> crate::helpers::cli::Run {
        run(&self.url, &self.storage(), args)
    }

    async fn conn(&self) -> PgConnection {
        PgConnection::connect_with(&options_for(&self.name)).await.unwrap()
    }

    async fn scalar(&self, sql: &str) -> i64 {
        let mut conn = self.conn().await;
        let v: i64 = sqlx::query_scalar(sql).fetch_one(&mut conn).await.unwrap();
        conn.close().await.unwrap();
        v
    }
}

impl Drop for FreshDb {
    fn drop(&mut self) {
        drop_database_blocking(&self.name);
    }
}

fn migration_count() -> i64 {
    corpus_te::db::MIGRATOR.iter().count() as i64
}

#[tokio::test]
async fn init_creates_the_database_applies_migrations_and_seeds_roles_idempotently() {
    let db = FreshDb::new();
    let first = db.run(&["db", "init"]);
    assert_eq!(first.code, 0, "{}", first.all());
    assert!(first.stdout.contains("created database"), "{}", first.stdout);
    assert_eq!(db.scalar("SELECT count(*) FROM _sqlx_migrations WHERE success").await, migration_count());
    assert_eq!(db.scalar("SELECT count(*) FROM role").await, 3);
    assert_eq!(db.scalar("SELECT count(*) FROM pg_extension WHERE extname = 'postgis'").await, 1);

    let second = db.run(&["db", "init"]);
    assert_eq!(second.code, 0, "{}", second.all());
    assert!(second.stdout.contains("up to date"), "{}", second.stdout);
    assert_eq!(db.scalar("SELECT count(*) FROM _sqlx_migrations").await, migration_count());
    assert_eq!(db.scalar("SELECT count(*) FROM role").await, 3);
    let names: String = {
        let mut conn = db.conn().await;
        sqlx::query_scalar(
            "SELECT string_agg(id || ':' || name::text || ':' || description, ',' ORDER BY id) FROM role",
        )
        .fetch_one(&mut conn)
        .await
        .unwrap()
    };
    assert_eq!(
        names,
        "1:admin:Administrator role with full access,2:user:Standard user role with basic access,\
         3:reviewer:Reviewer role with record review permissions"
    );

    let status = db.run(&["db", "status"]);
    assert_eq!(status.code, 0, "{}", status.all());
    assert!(status.stdout.contains("PostGIS 3"), "{}", status.stdout);
    assert!(status.stdout.contains("0 pending"), "{}", status.stdout);
}

#[tokio::test]
async fn two_concurrent_inits_leave_one_correct_schema() {
    let db = FreshDb::new();
    let spawn = || {
        corpus(&db.url, &db.storage())
            .args(["db", "init"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    assert!(a.status.success(), "{}", String::from_utf8_lossy(&a.stderr));
    assert!(b.status.success(), "{}", String::from_utf8_lossy(&b.stderr));
    assert_eq!(db.scalar("SELECT count(*) FROM _sqlx_migrations WHERE success").await, migration_count());
    assert_eq!(db.scalar("SELECT count(*) FROM role").await, 3);
    assert_eq!(db.run(&["db", "status"]).code, 0);
}

#[tokio::test]
async fn status_fails_when_the_server_is_unreachable() {
    let dir = tempfile::tempdir().unwrap();
    let out = run("postgres://postgres@127.0.0.1:1/corpus_te", dir.path(), &["db", "status"]);
    assert_ne!(out.code, 0, "{}", out.all());
    assert!(out.stdout.contains("server not reachable"), "{}", out.all());
}

#[tokio::test]
async fn status_fails_when_the_database_is_missing() {
    let db = FreshDb::new();
    let out = db.run(&["db", "status"]);
    assert_ne!(out.code, 0, "{}", out.all());
    assert!(out.stdout.contains("does not exist"), "{}", out.all());
    assert!(out.stdout.contains("server reachable"), "{}", out.all());
}

#[tokio::test]
async fn status_fails_with_a_pending_migration_until_init_applies_it() {
    let db = FreshDb::new();
    // Bring the database to every migration but the last, as an older release would have.
    let all: Vec<_> = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "sql"))
        .collect();
    let mut sorted = all.clone();
    sorted.sort();
    let older = tempfile::tempdir().unwrap();
    for path in &sorted[..sorted.len() - 1] {
        std::fs::copy(path, older.path().join(path.file_name().unwrap())).unwrap();
    }
    let mut admin = PgConnection::connect_with(&options_for("postgres")).await.unwrap();
    sqlx::query(&format!("CREATE DATABASE {}", corpus_te::db::quote_ident(&db.name)))
        .execute(&mut admin)
        .await
        .unwrap();
    let mut conn = db.conn().await;
    sqlx::migrate::Migrator::new(older.path()).await.unwrap().run(&mut conn).await.unwrap();
    corpus_te::db::init::seed_roles(&mut conn).await.unwrap();
    conn.close().await.unwrap();

    let behind = db.run(&["db", "status"]);
    assert_ne!(behind.code, 0, "{}", behind.all());
    assert!(behind.stdout.contains("1 pending"), "{}", behind.stdout);

    let init = db.run(&["db", "init"]);
    assert_eq!(init.code, 0, "{}", init.all());
    assert!(init.stdout.contains("applied migration"), "{}", init.stdout);
    assert_eq!(db.run(&["db", "status"]).code, 0);
}

#[tokio::test]
async fn migrate_applies_pending_migrations_on_an_existing_database() {
    let db = FreshDb::new();
    let mut admin = PgConnection::connect_with(&options_for("postgres")).await.unwrap();
    sqlx::query(&format!("CREATE DATABASE {}", corpus_te::db::quote_ident(&db.name)))
        .execute(&mut admin)
        .await
        .unwrap();
    let out = db.run(&["db", "migrate"]);
    assert_eq!(out.code, 0, "{}", out.all());
    assert_eq!(db.scalar("SELECT count(*) FROM _sqlx_migrations WHERE success").await, migration_count());
}

#[tokio::test]
async fn info_prints_the_configuration_without_the_password() {
    let db = FreshDb::new();
    assert_eq!(db.run(&["db", "init"]).code, 0);
    // Trust authentication ignores the password, so the URL still connects.
    let url = db.url.replacen("postgres://postgres@", "postgres://postgres:sekrit-pw@", 1);
    let out = run(&url, &db.storage(), &["db", "info"]);
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(out.stdout.contains("postgres:***@"), "{}", out.stdout);
    assert!(!out.all().contains("sekrit-pw"), "{}", out.all());
    assert!(out.stdout.contains(&db.name));
}

#[tokio::test]
async fn seed_inserts_the_sample_data_once_and_the_production_categories_on_request() {
    let db = FreshDb::new();
    let refused = db.run(&["db", "seed"]);
    assert_ne!(refused.code, 0, "seeding a missing database must fail: {}", refused.all());

    assert_eq!(db.run(&["db", "init"]).code, 0);
    let first = db.run(&["db", "seed"]);
    assert_eq!(first.code, 0, "{}", first.all());
    assert_eq!(db.scalar(r#"SELECT count(*) FROM "user""#).await, 3);
    assert_eq!(db.scalar("SELECT count(*) FROM category").await, 2);
    assert_eq!(db.scalar("SELECT count(*) FROM record").await, 4);
    assert_eq!(
        db.scalar(
            r#"SELECT count(*) FROM "user" u JOIN user_roles ur ON ur.user_id = u.id JOIN role r ON r.id = ur.role_id
               WHERE u.phone = '1111111111' AND r.name = 'admin'"#
        )
        .await,
        1
    );

    let again = db.run(&["db", "seed", "--categories"]);
    assert_eq!(again.code, 0, "{}", again.all());
    assert_eq!(db.scalar(r#"SELECT count(*) FROM "user""#).await, 3);
    assert_eq!(db.scalar("SELECT count(*) FROM record").await, 4);
    assert_eq!(db.scalar("SELECT count(*) FROM category").await, 16);
    assert_eq!(db.scalar("SELECT count(*) FROM category WHERE published AND rank BETWEEN 1 AND 14").await, 16);
}

#[tokio::test]
async fn reinit_and_clean_refuse_without_confirmation() {
    let db = FreshDb::new();
    assert_eq!(db.run(&["db", "init"]).code, 0);
    assert_eq!(db.run(&["db", "seed"]).code, 0);
    for command in ["reinit", "clean"] {
        let out = db.run(&["db", command]);
        assert_ne!(out.code, 0, "{command} without --yes must refuse: {}", out.all());
        assert!(out.stderr.contains("--yes"), "{}", out.all());
    }
    assert_eq!(db.scalar(r#"SELECT count(*) FROM "user""#).await, 3, "data must be untouched");
}

#[tokio::test]
async fn reinit_yes_empties_user_data_and_files_and_reseeds_roles() {
    let db = FreshDb::new();
    assert_eq!(db.run(&["db", "init"]).code, 0);
    assert_eq!(db.run(&["db", "seed"]).code, 0);
    std::fs::create_dir_all(db.storage().join("audio")).unwrap();
    std::fs::write(db.storage().join("audio/x.mp3"), b"data").unwrap();

    let out = db.run(&["db", "reinit", "--yes"]);
    assert_eq!(out.code, 0, "{}", out.all());
    assert_eq!(db.scalar(r#"SELECT count(*) FROM "user""#).await, 0);
    assert_eq!(db.scalar("SELECT count(*) FROM record").await, 0);
    assert_eq!(db.scalar("SELECT count(*) FROM category").await, 0);
    assert_eq!(db.scalar("SELECT count(*) FROM role").await, 3);
    assert!(db.storage().exists(), "the storage directory itself stays");
    assert_eq!(std::fs::read_dir(db.storage()).unwrap().count(), 0, "stored files are gone");
    assert_eq!(db.run(&["db", "status"]).code, 0);
}

#[tokio::test]
async fn clean_yes_drops_the_database_and_only_the_services_files() {
    let db = FreshDb::new();
    assert_eq!(db.run(&["db", "init"]).code, 0);
    let root = db.storage();
    let service = [
        "audio/0b0e6f0a-5f9e-4a57-9f3c-1f2d3c4b5a69.mp3",
        "uploads/9d7c1a8e-2b3f-4c5d-8e9f-0a1b2c3d4e5f/0",
        "health/x",
    ];
    for key in service {
        std::fs::create_dir_all(root.join(key).parent().unwrap()).unwrap();
        std::fs::write(root.join(key), b"object").unwrap();
    }
    // Files the service never wrote, beside its objects: a shared directory.
    std::fs::write(root.join("leftover.bin"), b"x").unwrap();
    std::fs::create_dir_all(root.join("photos")).unwrap();
    std::fs::write(root.join("photos/holiday.jpg"), b"y").unwrap();

    let out = db.run(&["db", "clean", "--yes"]);
    assert_eq!(out.code, 0, "{}", out.all());
    let status = db.run(&["db", "status"]);
    assert_ne!(status.code, 0);
    assert!(status.stdout.contains("does not exist"), "{}", status.stdout);
    for prefix in ["audio", "uploads", "health"] {
        assert!(!root.join(prefix).exists(), "{prefix}/ is the service's and goes: {}", out.all());
    }
    assert_eq!(std::fs::read(root.join("leftover.bin")).unwrap(), b"x", "a foreign file survives");
    assert_eq!(std::fs::read(root.join("photos/holiday.jpg")).unwrap(), b"y", "a foreign directory survives");
}

#[tokio::test]
async fn clean_and_reinit_refuse_a_storage_dir_that_is_or_holds_the_home_directory() {
    let db = FreshDb::new();
    assert_eq!(db.run(&["db", "init"]).code, 0);
    let home = db.dir.path().join("home/someone");
    std::fs::create_dir_all(home.join("audio")).unwrap();
    std::fs::write(home.join("audio/song.mp3"), b"mine").unwrap();
    std::fs::write(home.join("notes.txt"), b"mine").unwrap();
    for storage in [home.clone(), db.dir.path().join("home")] {
        for command in ["clean", "reinit"] {
            let out: crate::helpers::cli::Run =
                corpus(&db.url, &storage).env("HOME", &home).args(["db", command, "--yes"]).output().unwrap().into();
            assert_ne!(out.code, 0, "{command} with STORAGE_DIR={} must refuse: {}", storage.display(), out.all());
            assert!(out.stderr.contains("refusing to clean STORAGE_DIR"), "{}", out.all());
            assert!(out.stderr.contains("home directory"), "{}", out.all());
        }
    }
    assert_eq!(db.run(&["db", "status"]).code, 0, "the database was not dropped either");
    assert_eq!(std::fs::read(home.join("audio/song.mp3")).unwrap(), b"mine");
    assert_eq!(std::fs::read(home.join("notes.txt")).unwrap(), b"mine");
}

#[tokio::test]
async fn destructive_commands_fail_loudly_when_the_server_is_unreachable() {
    let dir = tempfile::tempdir().unwrap();
    let out = run("postgres://postgres@127.0.0.1:1/corpus_te", dir.path(), &["db", "reinit", "--yes"]);
    assert_ne!(out.code, 0, "{}", out.all());
    assert!(out.stderr.contains("error"), "{}", out.all());
}

#[tokio::test]
async fn init_gives_up_after_the_wait_bound_when_postgres_never_comes() {
    let dir = tempfile::tempdir().unwrap();
    let started = std::time::Instant::now();
    let out = crate::helpers::cli::corpus("postgres://postgres@127.0.0.1:1/corpus_te", dir.path())
        .env("DB_WAIT_SECONDS", "2")
        .args(["db", "init"])
        .output()
        .unwrap();
    let out: crate::helpers::cli::Run = out.into();
    assert_ne!(out.code, 0);
    assert!(out.stdout.contains("waiting for PostgreSQL"), "{}", out.all());
    assert!(out.stderr.contains("did not accept connections within 2s"), "{}", out.all());
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
}

#[tokio::test]
async fn production_seeds_only_the_categories_never_the_sample_accounts() {
    let db = FreshDb::new();
    assert_eq!(db.run(&["db", "init"]).code, 0);
    let production = |args: &[&str]| -> crate::helpers::cli::Run {
        corpus(&db.url, &db.storage())
            .env("CORPUS_ENV", "production")
            .env("APP_SECRET_KEY", "a-long-production-secret-value-of-32-bytes+")
            .args(args)
            .output()
            .unwrap()
            .into()
    };
    let refused = production(&["db", "seed"]);
    assert_ne!(refused.code, 0, "{}", refused.all());
    assert!(refused.stderr.contains("development only"), "{}", refused.all());
    let categories = production(&["db", "seed", "--categories"]);
    assert_eq!(categories.code, 0, "{}", categories.all());
    assert_eq!(db.scalar(r#"SELECT count(*) FROM "user""#).await, 0, "no account with a known password");
    assert_eq!(db.scalar("SELECT count(*) FROM category").await, 14);
}
