//! `corpus db status`: is the database reachable, initialised and current?

use sqlx::{Connection, PgConnection, Row};

use super::{MIGRATOR, init::applied_versions, init::connect_maintenance, is_missing_database};
use crate::config::Config;

/// Row counts of the main tables.
#[derive(Debug, Default, Clone)]
pub struct Counts {
    /// Rows in `role`.
    pub roles: i64,
    /// Rows in `user`.
    pub users: i64,
    /// Rows in `category`.
    pub categories: i64,
    /// Rows in `record`.
    pub records: i64,
    /// Rows in `otp`.
    pub otps: i64,
}

/// Everything `db status` reports.
#[derive(Debug)]
pub struct Status {
    /// The server's `version()`, or why it could not be reached.
    pub server: Result<String, String>,
    /// Whether the target database exists and accepts connections (or why not).
    pub database: Result<(), String>,
    /// PostGIS version when the extension is enabled.
    pub postgis: Option<String>,
    /// Applied migration versions known to this binary.
    pub applied: Vec<i64>,
    /// Migrations this binary has that the database has not applied: (version, description).
    pub pending: Vec<(i64, String)>,
    /// Versions the database has applied that this binary does not know (a newer release ran).
    pub unknown: Vec<i64>,
    /// Table counts, when the schema exists.
    pub counts: Option<Counts>,
}

impl Status {
    /// Fully initialised and current: reachable, PostGIS on, no pending migration, roles seeded.
    pub fn is_ready(&self) -> bool {
        self.server.is_ok()
            && self.database.is_ok()
            && self.postgis.is_some()
            && self.pending.is_empty()
            && self.unknown.is_empty()
            && self.counts.as_ref().is_some_and(|c| c.roles >= 3)
    }
}

/// Gathers the status of the configured database.
pub async fn check(config: &Config) -> anyhow::Result<Status> {
    inspect(config, true).await
}

/// Like [`check`] without the row counts (`counts` stays `None`): what a server start needs, at
/// a cost that does not grow with the tables.
pub async fn check_schema(config: &Config) -> anyhow::Result<Status> {
    inspect(config, false).await
}

async fn inspect(config: &Config, with_counts: bool) -> anyhow::Result<Status> {
    let options = config.pg_options()?;
    let mut status = Status {
        server: Err("not checked".into()),
        database: Err("not checked".into()),
        postgis: None,
        applied: Vec::new(),
        pending: Vec::new(),
        unknown: Vec::new(),
        counts: None,
    };

    let mut conn = match PgConnection::connect_with(&options).await {
        Ok(conn) => conn,
        Err(err) if is_missing_database(&err) => {
            status.database = Err(format!("database {} does not exist", super::database_name(&options)));
            status.server = match connect_maintenance(&options).await {
                Ok(mut conn) => {
                    let version = sqlx::query_scalar::<_, String>("SELECT version()").fetch_one(&mut conn).await;
                    let _ = conn.close().await;
                    version.map_err(|e| e.to_string())
                }
                Err(e) => Err(format!("{e:#}")),
            };
            return Ok(status);
        }
        Err(err) => {
            status.server = Err(err.to_string());
            status.database = Err("server not reachable".into());
            return Ok(status);
        }
    };
    status.server = Ok(sqlx::query_scalar("SELECT version()").fetch_one(&mut conn).await?);
    status.database = Ok(());
    status.postgis = sqlx::query_scalar::<_, String>("SELECT extversion FROM pg_extension WHERE extname = 'postgis'")
        .fetch_optional(&mut conn)
        .await?;

    let applied = applied_versions(&mut conn).await?;
    status.pending = MIGRATOR
        .iter()
        .filter(|m| !applied.contains(&m.version))
        .map(|m| (m.version, m.description.to_string()))
        .collect();
    status.unknown = applied.iter().copied().filter(|v| MIGRATOR.iter().all(|m| m.version != *v)).collect();
    status.applied = applied.into_iter().filter(|v| MIGRATOR.iter().any(|m| m.version == *v)).collect();

    let tables_exist: bool = sqlx::query_scalar(
        "SELECT to_regclass('public.role') IS NOT NULL AND to_regclass('public.\"user\"') IS NOT NULL \
            AND to_regclass('public.category') IS NOT NULL AND to_regclass('public.record') IS NOT NULL \
            AND to_regclass('public.otp') IS NOT NULL",
    )
    .fetch_one(&mut conn)
    .await?;
    if tables_exist && with_counts {
        let row = sqlx::query(
            "SELECT (SELECT count(*) FROM role) AS roles, (SELECT count(*) FROM \"user\") AS users, \
                    (SELECT count(*) FROM category) AS categories, (SELECT count(*) FROM record) AS records, \
                    (SELECT count(*) FROM otp) AS otps",
        )
        .fetch_one(&mut conn)
        .await?;
        status.counts = Some(Counts {
            roles: row.get("roles"),
            users: row.get("users"),
            categories: row.get("categories"),
            records: row.get("records"),
            otps: row.get("otps"),
        });
    }
    let _ = conn.close().await;
    Ok(status)
}
