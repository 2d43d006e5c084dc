//! Database access: connection pool, migrations, smart initialisation and status.
//!
//! Queries live in one module per aggregate; each function takes any executor so it works with
//! the pool or inside a transaction owned by the caller.

pub mod accounts;
pub mod contributions;
pub mod init;
pub mod seed;
pub mod status;
pub mod users;

use sqlx::{
    PgPool,
    migrate::Migrator,
    postgres::{PgConnectOptions, PgPoolOptions},
};

use crate::config::Config;

/// Every migration of the service, embedded in the binary.
pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// Revisions of the original's alembic chain, oldest first; `db init` takes over any of them.
pub const ALEMBIC_REVISIONS: [&str; 8] = [
    "1d805b364f52",
    "8133bfd89d7c",
    "58cec5cbaa6d",
    "068a6f844edc",
    "f3ec710ef1cd",
    "a3086f39bb0c",
    "aafaf157ff08",
    "118966d219d7",
];

/// The roles every installation has, with the original's ids and descriptions.
pub const SEED_ROLES: [(i32, &str, &str); 3] = [
    (1, "admin", "Administrator role with full access"),
    (2, "user", "Standard user role with basic access"),
    (3, "reviewer", "Reviewer role with record review permissions"),
];

/// Opens the service's connection pool on the configured database.
pub async fn connect(config: &Config) -> anyhow::Result<PgPool> {
    let options = config.pg_options()?;
    Ok(pool_options(config).connect_with(options).await?)
}

/// Pool settings shared by the server and the commands.
pub fn pool_options(config: &Config) -> PgPoolOptions {
    PgPoolOptions::new()
        .max_connections(config.database.db_pool_size)
        // Bounded and short: with the database down a request answers 503 after this wait
        // instead of holding its client for long.
        .acquire_timeout(config.db_acquire_timeout())
        // Every session works in UTC, whatever the server's default.
        .after_connect(|conn, _| {
            Box::pin(async move {
                sqlx::query("SET TIME ZONE 'UTC'").execute(conn).await?;
                Ok(())
            })
        })
}

/// The database name the options point at.
pub fn database_name(options: &PgConnectOptions) -> String {
    options.get_database().unwrap_or("postgres").to_owned()
}

/// Quotes an SQL identifier.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// True when the error says the database does not exist (SQLSTATE 3D000).
pub fn is_missing_database(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.code().as_deref() == Some("3D000"))
}
