//! What the database says about stored objects (which keys records and live uploads reference,
//! with the size and SHA-256 recorded for them), and the facts a backup describes itself with.
//! Used by `corpus db backup|restore` and `corpus storage verify|orphans`.
//!
//! Most statements here are checked at run time on purpose: a backup may be taken of a database
//! of an older release, so they first look at which columns exist (`has_column`).

use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

/// A record that has a stored object, with what was recorded about it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RecordObject {
    /// The record.
    pub uid: Uuid,
    /// Its object's key (`record.object_key`).
    pub object_key: String,
    /// The size recorded at upload (`record.file_size`); unknown for some rows of the original.
    pub file_size: Option<i64>,
    /// The SHA-256 recorded at upload (`record.content_sha256`); unknown for rows of the original.
    pub content_sha256: Option<String>,
}

/// Every record that has an object, ordered by key.
#[tracing::instrument(skip_all)]
pub async fn record_objects(db: &mut PgConnection) -> sqlx::Result<Vec<RecordObject>> {
    // Releases before content hashes had no `content_sha256` column.
    let sha = if has_column(db, "record", "content_sha256").await? { "content_sha256::text" } else { "NULL::text" };
    sqlx::query_as::<_, RecordObject>(&format!(
        "SELECT uid, object_key, file_size, {sha} AS content_sha256 FROM record
         WHERE object_key IS NOT NULL AND object_key <> '' ORDER BY object_key, uid"
    ))
    .fetch_all(db)
    .await
}

/// The records among `uids` that still exist with the same object key (for re-checking a
/// finding against writes made while it was being looked for).
#[tracing::instrument(skip_all)]
pub async fn records_still_referencing(db: impl PgExecutor<'_>, pairs: &[(Uuid, String)]) -> sqlx::Result<Vec<Uuid>> {
    let (uids, keys): (Vec<Uuid>, Vec<String>) = pairs.iter().cloned().unzip();
    sqlx::query_scalar!(
        r#"SELECT r.uid AS "uid!" FROM record r JOIN unnest($1::uuid[], $2::text[]) AS p(uid, object_key)
            ON r.uid = p.uid AND r.object_key = p.object_key"#,
        &uids,
        &keys
    )
    .fetch_all(db)
    .await
}

/// Objects that live resumable uploads hold: every object under `uploads/<id>/` of an upload
/// session that still exists, and the object a finalise noted before storing it.
#[derive(Debug, Clone, Default)]
pub struct UploadReferences {
    /// Upload sessions that exist (their chunk objects are live).
    pub sessions: Vec<Uuid>,
    /// Objects noted by finalises whose record is not written yet (`finalise_object_key`).
    pub finalise_keys: Vec<String>,
}

/// True when `table` has `column` in the public schema (a database of an older release may lack
/// what later migrations added; a backup of it is restored and migrated).
async fn has_column(db: &mut PgConnection, table: &str, column: &str) -> sqlx::Result<bool> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM information_schema.columns
                        WHERE table_schema = 'public' AND table_name = $1 AND column_name = $2)",
    )
    .bind(table)
    .bind(column)
    .fetch_one(db)
    .await
}

/// The objects live resumable uploads reference.
#[tracing::instrument(skip_all)]
pub async fn upload_references(db: &mut PgConnection) -> sqlx::Result<UploadReferences> {
    if !has_column(db, "upload_session", "upload_uuid").await? {
        return Ok(UploadReferences::default());
    }
    let sessions =
        sqlx::query_scalar("SELECT upload_uuid FROM upload_session ORDER BY upload_uuid").fetch_all(&mut *db).await?;
    let finalise_keys = if has_column(db, "upload_session", "finalise_object_key").await? {
        sqlx::query_scalar(
            "SELECT finalise_object_key FROM upload_session
             WHERE finalise_object_key IS NOT NULL AND record_uid IS NULL ORDER BY 1",
        )
        .fetch_all(&mut *db)
        .await?
    } else {
        Vec::new()
    };
    Ok(UploadReferences { sessions, finalise_keys })
}

/// Size and SHA-256 recorded for the chunks of live uploads, by chunk object key
/// (`uploads/<id>/<index>.<sha256>`).
#[tracing::instrument(skip_all)]
pub async fn chunk_hashes(db: &mut PgConnection) -> sqlx::Result<Vec<(Uuid, i32, i64, String)>> {
    if !has_column(db, "upload_chunk", "sha256").await? {
        return Ok(Vec::new());
    }
    sqlx::query_as("SELECT upload_uuid, chunk_index, size, sha256 FROM upload_chunk ORDER BY upload_uuid, chunk_index")
        .fetch_all(db)
        .await
}

/// Facts a backup records about the database it was taken from.
#[derive(Debug, Clone)]
pub struct DatabaseFacts {
    /// `current_database()`.
    pub name: String,
    /// `server_version` (`15.20 (Debian ...)`).
    pub server_version: String,
    /// `server_version_num` (`150020`).
    pub server_version_num: i32,
    /// The PostGIS extension's version, when enabled.
    pub postgis_version: Option<String>,
    /// Migrations applied: (version, description), oldest first; empty without sqlx's table.
    pub migrations: Vec<(i64, String)>,
}

/// The facts of the database `conn` is connected to.
#[tracing::instrument(skip_all)]
pub async fn database_facts(conn: &mut PgConnection) -> sqlx::Result<DatabaseFacts> {
    let (name, server_version, server_version_num): (String, String, String) = sqlx::query_as(
        "SELECT current_database()::text, current_setting('server_version'), current_setting('server_version_num')",
    )
    .fetch_one(&mut *conn)
    .await?;
    let postgis_version = sqlx::query_scalar("SELECT extversion::text FROM pg_extension WHERE extname = 'postgis'")
        .fetch_optional(&mut *conn)
        .await?;
    let has_migrations: bool =
        sqlx::query_scalar("SELECT to_regclass('public._sqlx_migrations') IS NOT NULL").fetch_one(&mut *conn).await?;
    let migrations = if has_migrations {
        sqlx::query_as("SELECT version, description FROM _sqlx_migrations WHERE success ORDER BY version")
            .fetch_all(&mut *conn)
            .await?
    } else {
        Vec::new()
    };
    Ok(DatabaseFacts {
        name,
        server_version,
        server_version_num: server_version_num.trim().parse().unwrap_or(0),
        postgis_version,
        migrations,
    })
}

/// Starts a read-only repeatable-read transaction on `conn` and exports its snapshot, so that
/// `pg_dump --snapshot` and the reads of this connection see the very same data. The snapshot
/// stays importable until the transaction ends (the caller rolls it back when done).
#[tracing::instrument(skip_all)]
pub async fn begin_exported_snapshot(conn: &mut PgConnection) -> sqlx::Result<String> {
    sqlx::query("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY").execute(&mut *conn).await?;
    sqlx::query_scalar("SELECT pg_export_snapshot()").fetch_one(&mut *conn).await
}

/// Ends the transaction [`begin_exported_snapshot`] started.
#[tracing::instrument(skip_all)]
pub async fn end_snapshot(conn: &mut PgConnection) -> sqlx::Result<()> {
    sqlx::query("ROLLBACK").execute(conn).await.map(|_| ())
}

/// Rows of one table of a database, for telling an empty database from one that holds data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableRows {
    /// `schema.table`.
    pub table: String,
    /// Exact row count.
    pub rows: i64,
}

/// Every ordinary table outside the system schemas that no extension owns (PostGIS's
/// `spatial_ref_sys` is left out), with its exact row count, ordered by name.
#[tracing::instrument(skip_all)]
pub async fn table_rows(conn: &mut PgConnection) -> sqlx::Result<Vec<TableRows>> {
    let tables: Vec<(String, String)> = sqlx::query_as(
        "SELECT n.nspname::text, c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE c.relkind IN ('r', 'p')
           AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'
           AND NOT EXISTS (SELECT 1 FROM pg_depend d
                           WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
         ORDER BY 1, 2",
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut out = Vec::with_capacity(tables.len());
    for (schema, table) in tables {
        let rows: i64 = sqlx::query_scalar(&format!(
            "SELECT count(*) FROM {}.{}",
            super::quote_ident(&schema),
            super::quote_ident(&table)
        ))
        .fetch_one(&mut *conn)
        .await?;
        out.push(TableRows { table: format!("{schema}.{table}"), rows });
    }
    Ok(out)
}
