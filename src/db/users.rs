//! Role links of users (replace, add, remove, clear) and finding a user the way the operations
//! commands name one. Reads of users and roles live in [`super::accounts`].

use sqlx::{PgExecutor, PgPool, Postgres, Transaction};
use uuid::Uuid;

use super::accounts::{self, UserRecord};
use crate::domain::{Phone, RoleName};

/// Finds a user by e-mail (exact) first, then by phone (as stored, or in any normalised form).
pub async fn find_by_identifier(db: impl PgExecutor<'_> + Copy, identifier: &str) -> sqlx::Result<Option<UserRecord>> {
    match accounts::user_by_email(db, identifier).await? {
        Some(user) => Ok(Some(user)),
        None => accounts::user_by_phone(db, identifier).await,
    }
}

/// Role ids for names; names missing from the table are returned as the error.
pub async fn role_ids(db: impl PgExecutor<'_>, names: &[RoleName]) -> sqlx::Result<Result<Vec<i32>, Vec<RoleName>>> {
    let wanted: Vec<&str> = names.iter().map(|r| r.as_str()).collect();
    let rows =
        sqlx::query!(r#"SELECT id, name::text AS "name!" FROM role WHERE name::text = ANY($1)"#, &wanted as &[&str])
            .fetch_all(db)
            .await?;
    let missing: Vec<RoleName> =
        names.iter().copied().filter(|n| !rows.iter().any(|row| row.name == n.as_str())).collect();
    if missing.is_empty() { Ok(Ok(rows.into_iter().map(|row| row.id).collect())) } else { Ok(Err(missing)) }
}

/// Replaces all of a user's roles with `role_ids` (duplicates ignored); returns how many were removed.
pub async fn replace_roles(tx: &mut Transaction<'_, Postgres>, user_id: Uuid, role_ids: &[i32]) -> sqlx::Result<u64> {
    let removed =
        sqlx::query!("DELETE FROM user_roles WHERE user_id = $1", user_id).execute(&mut **tx).await?.rows_affected();
    add_roles(&mut **tx, user_id, role_ids).await?;
    Ok(removed)
}

/// Adds roles a user does not have yet (duplicates ignored); returns how many were added.
pub async fn add_roles(db: impl PgExecutor<'_>, user_id: Uuid, role_ids: &[i32]) -> sqlx::Result<u64> {
    Ok(sqlx::query!(
        "INSERT INTO user_roles (user_id, role_id) SELECT $1, r FROM unnest($2::int[]) AS r ON CONFLICT DO NOTHING",
        user_id,
        role_ids
    )
    .execute(db)
    .await?
    .rows_affected())
}

/// Removes one role link; returns whether the user had it.
pub async fn remove_role(db: impl PgExecutor<'_>, user_id: Uuid, role_id: i32) -> sqlx::Result<bool> {
    Ok(sqlx::query!("DELETE FROM user_roles WHERE user_id = $1 AND role_id = $2", user_id, role_id)
        .execute(db)
        .await?
        .rows_affected()
        > 0)
}

/// Removes every role link of a user; returns how many there were.
pub async fn clear_roles(db: impl PgExecutor<'_>, user_id: Uuid) -> sqlx::Result<u64> {
    Ok(sqlx::query!("DELETE FROM user_roles WHERE user_id = $1", user_id).execute(db).await?.rows_affected())
}

/// Creates an active user with consent recorded and the given roles; returns the new id.
pub async fn create_with_roles(
    pool: &PgPool,
    phone: &Phone,
    name: &str,
    password_hash: Option<&str>,
    role_ids: &[i32],
) -> sqlx::Result<Uuid> {
    let mut tx = pool.begin().await?;
    let id = sqlx::query_scalar!(
        r#"INSERT INTO "user" (id, phone, name, hashed_password, is_active, has_given_consent, consent_given_at)
           VALUES (gen_random_uuid(), $1, $2, $3, true, true, now()) RETURNING id"#,
        phone.as_str(),
        name,
        password_hash
    )
    .fetch_one(&mut *tx)
    .await?;
    add_roles(&mut *tx, id, role_ids).await?;
    tx.commit().await?;
    Ok(id)
}
