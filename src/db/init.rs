//! Smart initialisation (`corpus db init`): wait for PostgreSQL, create the database if missing,
//! enable PostGIS, apply every pending migration, seed the roles.
//!
//! Idempotent, and safe when several processes run it at once: the whole sequence runs under a
//! PostgreSQL advisory lock, and a concurrent `CREATE DATABASE` losing the race is not an error.
//! A database created by the original's alembic chain is upgraded in place (see the baseline
//! migration, which converges every alembic revision to the original's head schema first).

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use sqlx::{Connection, PgConnection, Row, postgres::PgConnectOptions};

use super::{ALEMBIC_REVISIONS, MIGRATOR, SEED_ROLES, database_name, is_missing_database, quote_ident};
use crate::config::Config;

/// Advisory lock key held while initialising ("corpus" in ASCII).
const INIT_LOCK_KEY: i64 = 0x0000_636f_7270_7573;

/// What `initialize` did.
#[derive(Debug, Default)]
pub struct InitReport {
    /// The database did not exist and was created.
    pub created_database: bool,
    /// The alembic revision of the original's database that was taken over.
    pub took_over_revision: Option<String>,
    /// Versions of the migrations applied by this run.
    pub applied: Vec<i64>,
    /// Roles inserted by this run.
    pub seeded_roles: u64,
}

/// Runs the smart initialisation, printing progress through `progress`.
pub async fn initialize(config: &Config, progress: &mut dyn FnMut(&str)) -> anyhow::Result<InitReport> {
    let options = config.pg_options()?;
    let mut report = InitReport::default();
    let mut conn = wait_and_connect(&options, config.db_wait(), &mut report, progress).await?;

    sqlx::query("SELECT pg_advisory_lock($1)").bind(INIT_LOCK_KEY).execute(&mut conn).await?;
    let result = initialize_locked(&mut conn, &mut report, progress).await;
    // The lock dies with the session anyway; unlocking explicitly lets a waiting run go on at once.
    let _ = sqlx::query("SELECT pg_advisory_unlock($1)").bind(INIT_LOCK_KEY).execute(&mut conn).await;
    let _ = conn.close().await;
    result.map(|()| report)
}

async fn initialize_locked(
    conn: &mut PgConnection,
    report: &mut InitReport,
    progress: &mut dyn FnMut(&str),
) -> anyhow::Result<()> {
    let available: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'postgis')")
            .fetch_one(&mut *conn)
            .await?;
    if !available {
        bail!("PostGIS is not installed on this PostgreSQL server (install postgresql-<version>-postgis-3)");
    }

    let row = sqlx::query(
        "SELECT to_regclass('public.alembic_version') IS NOT NULL AS alembic, \
                to_regclass('public._sqlx_migrations') IS NOT NULL AS ours",
    )
    .fetch_one(&mut *conn)
    .await?;
    let (alembic, ours): (bool, bool) = (row.get("alembic"), row.get("ours"));
    if alembic && !ours {
        let revision: Option<String> =
            sqlx::query_scalar("SELECT version_num FROM alembic_version LIMIT 1").fetch_optional(&mut *conn).await?;
        let revision = revision.unwrap_or_default();
        if !ALEMBIC_REVISIONS.contains(&revision.as_str()) {
            bail!(
                "this database was made by the original's alembic chain at unknown revision `{revision}`; \
                 refusing to take it over (known revisions end at {})",
                ALEMBIC_REVISIONS[ALEMBIC_REVISIONS.len() - 1]
            );
        }
        progress(&format!(
            "taking over a database of the original service (alembic revision {revision}); every row is kept"
        ));
        report.took_over_revision = Some(revision);
    }

    let before = applied_versions(conn).await?;
    MIGRATOR.run(&mut *conn).await.context("applying migrations")?;
    let after = applied_versions(conn).await?;
    report.applied = after.into_iter().filter(|v| !before.contains(v)).collect();
    for version in &report.applied {
        let description = MIGRATOR.iter().find(|m| m.version == *version).map(|m| m.description.to_string());
        progress(&format!("applied migration {version} {}", description.unwrap_or_default()));
    }
    if report.applied.is_empty() {
        progress("migrations: up to date");
    }

    report.seeded_roles = seed_roles(conn).await?;
    if report.seeded_roles > 0 {
        progress(&format!("seeded {} role(s)", report.seeded_roles));
    }
    Ok(())
}

/// Versions recorded as successfully applied.
pub async fn applied_versions(conn: &mut PgConnection) -> anyhow::Result<Vec<i64>> {
    let exists: bool =
        sqlx::query_scalar("SELECT to_regclass('public._sqlx_migrations') IS NOT NULL").fetch_one(&mut *conn).await?;
    if !exists {
        return Ok(Vec::new());
    }
    Ok(sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success ORDER BY version")
        .fetch_all(&mut *conn)
        .await?)
}

/// Inserts the three roles where missing; returns how many were inserted.
pub async fn seed_roles(conn: &mut PgConnection) -> anyhow::Result<u64> {
    let mut inserted = 0;
    for (id, name, description) in SEED_ROLES {
        inserted += sqlx::query!(
            "INSERT INTO role (id, name, description) VALUES ($1, $2::text::roleenum, $3) ON CONFLICT DO NOTHING",
            id,
            name,
            description
        )
        .execute(&mut *conn)
        .await?
        .rows_affected();
    }
    // Explicit ids leave the serial behind; move it past them so a new role gets a free id.
    sqlx::query_scalar!("SELECT setval('role_id_seq', GREATEST((SELECT max(id) FROM role), 1))")
        .fetch_one(&mut *conn)
        .await?;
    Ok(inserted)
}

/// Waits (bounded) until the server accepts connections, creating the database if it is missing.
async fn wait_and_connect(
    options: &PgConnectOptions,
    wait: Duration,
    report: &mut InitReport,
    progress: &mut dyn FnMut(&str),
) -> anyhow::Result<PgConnection> {
    let deadline = Instant::now() + wait;
    let target = format!("{}:{}", options.get_host(), options.get_port());
    let name = database_name(options);
    let mut attempt = 0u32;
    loop {
        attempt += 1;
        match PgConnection::connect_with(options).await {
            Ok(conn) => {
                if attempt > 1 {
                    progress(&format!("PostgreSQL at {target} is ready"));
                }
                return Ok(conn);
            }
            Err(err) if is_missing_database(&err) => {
                if create_database(options, &name).await? {
                    report.created_database = true;
                    progress(&format!("created database {name}"));
                }
            }
            Err(err) if is_fatal(&err) => return Err(err).context(format!("connecting to PostgreSQL at {target}")),
            Err(err) => {
                if Instant::now() >= deadline {
                    return Err(err).context(format!(
                        "PostgreSQL at {target} did not accept connections within {}s",
                        wait.as_secs()
                    ));
                }
                progress(&format!("waiting for PostgreSQL at {target} (attempt {attempt}): {err}"));
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

/// Authentication and permission failures do not go away by waiting.
fn is_fatal(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if matches!(db.code().as_deref(), Some("28P01" | "28000" | "42501")))
}

/// Creates the database from a maintenance connection; false when someone else created it first.
pub async fn create_database(options: &PgConnectOptions, name: &str) -> anyhow::Result<bool> {
    let mut conn = connect_maintenance(options).await?;
    let result = sqlx::query(&format!("CREATE DATABASE {}", quote_ident(name))).execute(&mut conn).await;
    let _ = conn.close().await;
    match result {
        Ok(_) => Ok(true),
        // 42P04 duplicate_database: a concurrent run won the race, which is fine.
        Err(sqlx::Error::Database(db)) if db.code().as_deref() == Some("42P04") => Ok(false),
        // 23505 on pg_database's unique index is how the same race can surface too.
        Err(sqlx::Error::Database(db)) if db.code().as_deref() == Some("23505") => Ok(false),
        Err(err) => Err(err).context(format!("creating database {name}")),
    }
}

/// Connects to the server's maintenance database (`postgres`, else `template1`).
pub async fn connect_maintenance(options: &PgConnectOptions) -> anyhow::Result<PgConnection> {
    match PgConnection::connect_with(&options.clone().database("postgres")).await {
        Ok(conn) => Ok(conn),
        Err(err) if is_missing_database(&err) => Ok(PgConnection::connect_with(&options.clone().database("template1"))
            .await
            .context("connecting to the maintenance database")?),
        Err(err) => Err(err).context("connecting to the maintenance database"),
    }
}

/// Drops the database, disconnecting its sessions; true when it existed.
pub async fn drop_database(options: &PgConnectOptions) -> anyhow::Result<bool> {
    let name = database_name(options);
    let mut conn = connect_maintenance(options).await?;
    let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
        .bind(&name)
        .fetch_one(&mut conn)
        .await?;
    if exists {
        sqlx::query(&format!("DROP DATABASE {} WITH (FORCE)", quote_ident(&name)))
            .execute(&mut conn)
            .await
            .with_context(|| format!("dropping database {name}"))?;
    }
    let _ = conn.close().await;
    Ok(exists)
}
