//! Test harness: a fresh PostgreSQL database per test (cloned from a migrated PostGIS template),
//! the real application served over HTTP on a loopback port, and helpers to run the real binary.

#![allow(dead_code)]

pub mod accounts;
pub mod cli;
pub mod console;
pub mod logs;
pub mod sms;

use std::{net::SocketAddr, str::FromStr, sync::OnceLock};

use axum::{ServiceExt, extract::Request};
use corpus_te::{config::Config, db, router, state::AppState};
use reqwest::{Method, RequestBuilder, Response};
use serde_json::Value;
use sha2::{Digest, Sha256};
use sqlx::{Connection, PgConnection, PgPool, postgres::PgConnectOptions};
use tempfile::TempDir;
use uuid::Uuid;

/// Secret the test applications sign tokens with.
pub const TEST_SECRET: &str = "test-secret-not-for-production";

/// Server URL the tests use: `TEST_DATABASE_URL`, else `DATABASE_URL`, else local trust auth.
pub fn server_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .or_else(|_| std::env::var("DATABASE_URL"))
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// Connection options for database `name` on the test server.
pub fn options_for(name: &str) -> PgConnectOptions {
    PgConnectOptions::from_str(&server_url()).expect("valid TEST_DATABASE_URL").database(name)
}

/// URL of database `name` on the test server.
pub fn url_for(name: &str) -> String {
    let base = server_url();
    let (prefix, _) = base.rsplit_once('/').expect("database URL has a path");
    let query = base.split_once('?').map(|(_, q)| format!("?{q}")).unwrap_or_default();
    format!("{prefix}/{name}{query}")
}

/// A unique database name that does not exist yet.
pub fn unique_db_name() -> String {
    format!("corpus_test_{}", Uuid::new_v4().simple())
}

async fn admin_connection() -> PgConnection {
    PgConnection::connect_with(&options_for("postgres")).await.expect("connect to the test PostgreSQL server")
}

/// Name of the template for the current migrations: a hash of their checksums, so a changed
/// migration gets a new template.
fn template_name() -> &'static str {
    static NAME: OnceLock<String> = OnceLock::new();
    NAME.get_or_init(|| {
        let mut hasher = Sha256::new();
        for m in db::MIGRATOR.iter() {
            hasher.update(m.version.to_le_bytes());
            hasher.update(&m.checksum);
        }
        format!("corpus_tpl_{}", &hex::encode(hasher.finalize())[..16])
    })
}

/// Makes the migrated template once per migration set, across all test processes.
async fn ensure_template() -> &'static str {
    let name = template_name();
    let mut admin = admin_connection().await;
    // Test processes run in parallel: one builds the template, the others wait on this lock.
    sqlx::query("SELECT pg_advisory_lock(7042001)").execute(&mut admin).await.unwrap();
    let ready: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM pg_database d JOIN pg_shdescription s ON s.objoid = d.oid \
         WHERE d.datname = $1 AND s.description = 'ready')",
    )
    .bind(name)
    .fetch_one(&mut admin)
    .await
    .unwrap();
    if !ready {
        sqlx::query(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", db::quote_ident(name)))
            .execute(&mut admin)
            .await
            .unwrap();
        sqlx::query(&format!("CREATE DATABASE {}", db::quote_ident(name))).execute(&mut admin).await.unwrap();
        let mut conn = PgConnection::connect_with(&options_for(name)).await.unwrap();
        db::MIGRATOR.run(&mut conn).await.expect("migrations apply to an empty database");
        db::init::seed_roles(&mut conn).await.unwrap();
        conn.close().await.unwrap();
        sqlx::query(&format!("COMMENT ON DATABASE {} IS 'ready'", db::quote_ident(name)))
            .execute(&mut admin)
            .await
            .unwrap();
        // Templates of older migration sets are of no use any more.
        let stale: Vec<String> = sqlx::query_scalar(
            "SELECT datname FROM pg_database WHERE datname LIKE 'corpus\\_tpl\\_%' AND datname <> $1",
        )
        .bind(name)
        .fetch_all(&mut admin)
        .await
        .unwrap();
        for old in stale {
            let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", db::quote_ident(&old)))
                .execute(&mut admin)
                .await;
        }
    }
    sqlx::query("SELECT pg_advisory_unlock(7042001)").execute(&mut admin).await.unwrap();
    let _ = admin.close().await;
    name
}

/// A fresh, migrated database with the roles seeded; dropped when the value is dropped.
pub struct TestDb {
    /// Database name.
    pub name: String,
    /// Database URL.
    pub url: String,
    /// A pool on it, for arranging and asserting.
    pub pool: PgPool,
    keep: bool,
}

impl TestDb {
    /// Clones the template into a new database.
    pub async fn new() -> Self {
        let template = ensure_template().await;
        let name = unique_db_name();
        let mut admin = admin_connection().await;
        sqlx::query(&format!("CREATE DATABASE {} TEMPLATE {}", db::quote_ident(&name), db::quote_ident(template)))
            .execute(&mut admin)
            .await
            .expect("clone the template database");
        let _ = admin.close().await;
        Self::existing(name).await
    }

    /// Wraps an existing database (dropped at the end like the others).
    pub async fn existing(name: String) -> Self {
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(5)
            .connect_with(options_for(&name))
            .await
            .expect("connect to the test database");
        Self { url: url_for(&name), name, pool, keep: std::env::var_os("KEEP_TEST_DB").is_some() }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if self.keep {
            if std::env::var_os("KEEP_TEST_DB").is_some() {
                eprintln!("kept test database {}", self.name);
            }
            return;
        }
        drop_database_blocking(&self.name);
    }
}

/// Drops a database now, closing its connections (a database that vanishes under a running app).
pub async fn drop_database_now(name: &str) {
    let mut admin = PgConnection::connect_with(&options_for("postgres")).await.unwrap();
    sqlx::query(&format!("DROP DATABASE {} WITH (FORCE)", db::quote_ident(name))).execute(&mut admin).await.unwrap();
}

/// Drops a database from a helper thread (usable from `Drop` inside a runtime).
pub fn drop_database_blocking(name: &str) {
    let name = name.to_owned();
    let _ = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            if let Ok(mut admin) = PgConnection::connect_with(&options_for("postgres")).await {
                let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", db::quote_ident(&name)))
                    .execute(&mut admin)
                    .await;
                let _ = admin.close().await;
            }
        });
    })
    .join();
}

/// The base test configuration for a database URL and a storage directory.
pub fn test_config(database_url: &str, storage_dir: &std::path::Path) -> Config {
    Config::from_args([
        "--database-url",
        database_url,
        "--storage-dir",
        storage_dir.to_str().unwrap(),
        "--storage-backend",
        "local",
        "--app-secret-key",
        TEST_SECRET,
        "--bind",
        "127.0.0.1:0",
        "--log-level",
        "info",
        // The app runs inside the test binary; its media probe children are the real `corpus`.
        "--media-probe-program",
        env!("CARGO_BIN_EXE_corpus"),
    ])
    .expect("test configuration parses")
}

/// The application served on a loopback port, with its own database and storage directory.
pub struct TestApp {
    /// Where the server listens.
    pub addr: SocketAddr,
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    /// HTTP client (no redirects followed, so a 307 would show).
    pub client: reqwest::Client,
    /// The configuration the app runs with.
    pub config: Config,
    /// The app's database (declared after the server so it is dropped last).
    pub db: TestDb,
    /// The app's storage directory.
    pub storage_dir: TempDir,
    /// The app's identity cache (to see whether its change listener is up).
    pub identities: corpus_te::auth::identities::IdentityCache,
    /// The app's records list cache (to see whether its change listener is up).
    pub record_pages: corpus_te::cache::record_pages::RecordPages,
    /// The app's category lists.
    pub categories: corpus_te::cache::categories::CategoryLists,
    server: tokio::task::JoinHandle<()>,
    change_listener: Option<tokio::task::JoinHandle<()>>,
}

impl TestApp {
    /// Serves the application on a fresh database with the default test configuration.
    pub async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    /// Like [`TestApp::spawn`], letting the test adjust the configuration first.
    pub async fn spawn_with(adjust: impl FnOnce(&mut Config)) -> Self {
        logs::init();
        Self::serve(TestDb::new().await, adjust).await
    }

    async fn serve(db: TestDb, adjust: impl FnOnce(&mut Config)) -> Self {
        let storage_dir = tempfile::tempdir().unwrap();
        let mut config = test_config(&db.url, storage_dir.path());
        adjust(&mut config);
        config.validate().expect("test configuration is valid");
        let pool = db::connect(&config).await.expect("app pool");
        let state = AppState::new(config.clone(), pool).expect("app state");
        let change_listener = state.spawn_change_listener();
        let identities = state.identities.clone();
        let record_pages = state.record_pages.clone();
        let categories = state.categories.clone();
        let app = router::with_trailing_slash_tolerance(router::build(state));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            axum::serve(listener, ServiceExt::<Request>::into_make_service_with_connect_info::<SocketAddr>(app))
                .await
                .unwrap();
        });
        let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        Self {
            addr,
            base: format!("http://{addr}"),
            client,
            config,
            db,
            storage_dir,
            identities,
            record_pages,
            categories,
            server,
            change_listener,
        }
    }

    /// A second replica: another app on this app's database (which stays owned by `self`), with
    /// its own storage directory unless `adjust` points both at shared storage.
    pub async fn spawn_replica(&self, adjust: impl FnOnce(&mut Config)) -> Self {
        let mut db = TestDb::existing(self.db.name.clone()).await;
        db.keep = true; // `self` drops it.
        Self::serve(db, adjust).await
    }

    /// Absolute URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// A request to `path`.
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.client.request(method, self.url(path))
    }

    /// `GET path`.
    pub fn get(&self, path: &str) -> RequestBuilder {
        self.request(Method::GET, path)
    }

    /// `POST path`.
    pub fn post(&self, path: &str) -> RequestBuilder {
        self.request(Method::POST, path)
    }

    /// `PUT path`.
    pub fn put(&self, path: &str) -> RequestBuilder {
        self.request(Method::PUT, path)
    }

    /// `PATCH path`.
    pub fn patch(&self, path: &str) -> RequestBuilder {
        self.request(Method::PATCH, path)
    }

    /// `DELETE path`.
    pub fn delete(&self, path: &str) -> RequestBuilder {
        self.request(Method::DELETE, path)
    }

    /// The pool of the app's database.
    pub fn pool(&self) -> &PgPool {
        &self.db.pool
    }

    /// Waits (at most 10 s) until the app's change listener is subscribed, so its identity,
    /// records list and category caches serve from memory and hear every change from then on.
    pub async fn until_listening(&self) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !(self.identities.is_listening() && self.record_pages.is_listening() && self.categories.is_listening()) {
            assert!(std::time::Instant::now() < deadline, "the change listener did not subscribe within 10 s");
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.server.abort();
        if let Some(task) = &self.change_listener {
            task.abort();
        }
    }
}

/// Reads a response as (status, JSON body); a non-JSON body becomes `Value::String`.
pub async fn json(response: Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, body)
}

/// Sends a request and reads (status, JSON body).
pub async fn send(request: RequestBuilder) -> (u16, Value) {
    json(request.send().await.expect("request reaches the server")).await
}
