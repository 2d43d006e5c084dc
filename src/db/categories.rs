//! Categories: read (published ones for everyone, all for admins), created, changed field by
//! field, deleted while no record uses them.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgExecutor;
use uuid::Uuid;

/// A category as stored, and as every endpoint returns it.
#[derive(Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Category {
    /// Id.
    pub id: Uuid,
    /// Unique machine name.
    pub name: String,
    /// Display title.
    pub title: String,
    /// Longer description.
    pub description: Option<String>,
    /// Visible to contributors.
    pub published: bool,
    /// Sort key (ascending).
    pub rank: i32,
    /// Creation time.
    #[serde(serialize_with = "crate::domain::time::serialize")]
    pub created_at: DateTime<Utc>,
    /// Last change.
    #[serde(serialize_with = "crate::domain::time::serialize")]
    pub updated_at: DateTime<Utc>,
}

/// The fields of a new category.
#[derive(Debug)]
pub struct NewCategory<'a> {
    /// Unique machine name.
    pub name: &'a str,
    /// Display title.
    pub title: &'a str,
    /// Longer description.
    pub description: Option<&'a str>,
    /// Visible to contributors.
    pub published: bool,
    /// Sort key.
    pub rank: i32,
}

/// The fields an update sets; `None` leaves a field as it is.
#[derive(Debug, Default)]
pub struct CategoryChanges {
    /// New name.
    pub name: Option<String>,
    /// New title.
    pub title: Option<String>,
    /// New description (`Some(None)` clears it).
    pub description: Option<Option<String>>,
    /// New visibility.
    pub published: Option<bool>,
    /// New rank.
    pub rank: Option<i32>,
}

/// Categories by rank, then name; unpublished ones only with `include_unpublished`.
#[tracing::instrument(skip_all)]
pub async fn list(db: impl PgExecutor<'_>, include_unpublished: bool) -> sqlx::Result<Vec<Category>> {
    sqlx::query_as!(
        Category,
        "SELECT id, name, title, description, published, rank, created_at, updated_at
         FROM category WHERE published OR $1 ORDER BY rank, name, id",
        include_unpublished
    )
    .fetch_all(db)
    .await
}

/// One category; an unpublished one only with `include_unpublished`.
#[tracing::instrument(skip_all)]
pub async fn get(db: impl PgExecutor<'_>, id: Uuid, include_unpublished: bool) -> sqlx::Result<Option<Category>> {
    sqlx::query_as!(
        Category,
        "SELECT id, name, title, description, published, rank, created_at, updated_at
         FROM category WHERE id = $1 AND (published OR $2)",
        id,
        include_unpublished
    )
    .fetch_optional(db)
    .await
}

/// Whether records may be filed under a category: it exists and is published (or
/// `include_unpublished`).
#[tracing::instrument(skip_all)]
pub async fn usable(db: impl PgExecutor<'_>, id: Uuid, include_unpublished: bool) -> sqlx::Result<bool> {
    sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM category WHERE id = $1 AND (published OR $2)) AS "usable!""#,
        id,
        include_unpublished
    )
    .fetch_one(db)
    .await
}

/// Creates a category. Fails on `ix_category_name` (taken) and the not-blank checks.
#[tracing::instrument(skip_all)]
pub async fn insert(db: impl PgExecutor<'_>, new: &NewCategory<'_>) -> sqlx::Result<Category> {
    sqlx::query_as!(
        Category,
        "INSERT INTO category (id, name, title, description, published, rank)
         VALUES (gen_random_uuid(), $1, $2, $3, $4, $5)
         RETURNING id, name, title, description, published, rank, created_at, updated_at",
        new.name,
        new.title,
        new.description,
        new.published,
        new.rank
    )
    .fetch_one(db)
    .await
}

/// Applies `changes`; `None` when the category does not exist.
#[tracing::instrument(skip_all)]
pub async fn update(db: impl PgExecutor<'_>, id: Uuid, changes: &CategoryChanges) -> sqlx::Result<Option<Category>> {
    sqlx::query_as!(
        Category,
        "UPDATE category SET
            name = COALESCE($2, name),
            title = COALESCE($3, title),
            description = CASE WHEN $4 THEN $5 ELSE description END,
            published = COALESCE($6, published),
            rank = COALESCE($7, rank)
         WHERE id = $1
         RETURNING id, name, title, description, published, rank, created_at, updated_at",
        id,
        changes.name,
        changes.title,
        changes.description.is_some(),
        changes.description.clone().flatten(),
        changes.published,
        changes.rank
    )
    .fetch_optional(db)
    .await
}

/// Deletes a category; returns whether it existed. Fails on `record_category_id_fkey` while
/// records use it.
#[tracing::instrument(skip_all)]
pub async fn delete(db: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<bool> {
    Ok(sqlx::query!("DELETE FROM category WHERE id = $1", id).execute(db).await?.rows_affected() > 0)
}
