//! Accounts: users as the API shows them, their credentials and roles, and role administration
//! (contribution summaries are in [`super::contributions`]). Every function takes any executor;
//! callers own transactions.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use sqlx::{PgExecutor, Postgres, QueryBuilder};
use tracing::instrument;
use uuid::Uuid;

use crate::domain::{Phone, PhoneLookup, time};

/// A user as every response shows it (the original's `UserRead`): never the password hash.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
#[schema(as = UserRead)]
pub struct UserRecord {
    /// Phone number (E.164 for accounts made here; as typed for the original's).
    pub phone: String,
    /// Display name.
    pub name: String,
    /// E-mail address.
    pub email: Option<String>,
    /// Gender, free text.
    pub gender: Option<String>,
    /// Date of birth, `YYYY-MM-DD`.
    pub date_of_birth: Option<NaiveDate>,
    /// Place.
    pub place: Option<String>,
    /// User id.
    pub id: Uuid,
    /// Whether the account may sign in.
    pub is_active: bool,
    /// Whether the user consented to the collection terms.
    pub has_given_consent: bool,
    /// When consent was given.
    #[serde(serialize_with = "time::serialize_opt")]
    pub consent_given_at: Option<DateTime<Utc>>,
    /// Last successful login.
    #[serde(serialize_with = "time::serialize_opt")]
    pub last_login_at: Option<DateTime<Utc>>,
    /// Creation time.
    #[serde(serialize_with = "time::serialize")]
    pub created_at: DateTime<Utc>,
    /// Last change.
    #[serde(serialize_with = "time::serialize")]
    pub updated_at: DateTime<Utc>,
}

/// A role as responses show it (the original's `RoleRead`).
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
#[schema(as = RoleRead)]
pub struct RoleRecord {
    /// `admin`, `user` or `reviewer`.
    pub name: String,
    /// Description.
    pub description: Option<String>,
    /// Role id.
    pub id: i32,
}

/// What a login needs to know about an account.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Credentials {
    /// User id.
    pub id: Uuid,
    /// Stored hash (argon2id, or the original's bcrypt), if the account has a password.
    pub hashed_password: Option<String>,
    /// Whether the account may sign in.
    pub is_active: bool,
}

const USER_COLUMNS: &str = "phone, name, email, gender, date_of_birth, place, id, is_active, has_given_consent, \
                            consent_given_at, last_login_at, created_at, updated_at";

/// One user by id.
#[instrument(skip_all)]
pub async fn get_user(db: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<Option<UserRecord>> {
    sqlx::query_as!(
        UserRecord,
        r#"SELECT phone, name, email, gender, date_of_birth, place, id, is_active, has_given_consent, consent_given_at, last_login_at, created_at, updated_at
           FROM "user" WHERE id = $1"#,
        id
    )
    .fetch_optional(db)
    .await
}

/// Users whose stored phone is any form of `phone` (E.164, national, `91`-prefixed, as typed),
/// the exact E.164 match first (see [`PhoneLookup`]).
#[instrument(skip_all)]
pub async fn users_by_phone(db: impl PgExecutor<'_>, phone: impl Into<PhoneLookup>) -> sqlx::Result<Vec<UserRecord>> {
    let phone = phone.into();
    sqlx::query_as!(
        UserRecord,
        r#"SELECT phone, name, email, gender, date_of_birth, place, id, is_active, has_given_consent, consent_given_at, last_login_at, created_at, updated_at
           FROM "user" WHERE phone = ANY($1)
           ORDER BY (phone = $2) IS TRUE DESC, created_at, id"#,
        &phone.forms(),
        phone.e164().map(Phone::as_str)
    )
    .fetch_all(db)
    .await
}

/// The user a phone number designates, in any stored form.
pub async fn user_by_phone(db: impl PgExecutor<'_>, phone: impl Into<PhoneLookup>) -> sqlx::Result<Option<UserRecord>> {
    Ok(users_by_phone(db, phone).await?.into_iter().next())
}

/// The user with this e-mail address (exact match, as the original compared).
#[instrument(skip_all)]
pub async fn user_by_email(db: impl PgExecutor<'_>, email: &str) -> sqlx::Result<Option<UserRecord>> {
    sqlx::query_as!(
        UserRecord,
        r#"SELECT phone, name, email, gender, date_of_birth, place, id, is_active, has_given_consent, consent_given_at, last_login_at, created_at, updated_at
           FROM "user" WHERE email = $1"#,
        email
    )
    .fetch_optional(db)
    .await
}

/// A page of users, oldest first.
#[instrument(skip_all)]
pub async fn list_users(db: impl PgExecutor<'_>, skip: i64, limit: i64) -> sqlx::Result<Vec<UserRecord>> {
    sqlx::query_as!(
        UserRecord,
        r#"SELECT phone, name, email, gender, date_of_birth, place, id, is_active, has_given_consent, consent_given_at, last_login_at, created_at, updated_at
           FROM "user" ORDER BY created_at, id OFFSET $1 LIMIT $2"#,
        skip,
        limit
    )
    .fetch_all(db)
    .await
}

/// Login data of the account a phone number designates (any stored form, E.164 preferred).
#[instrument(skip_all)]
pub async fn credentials_by_phone(db: impl PgExecutor<'_>, phone: &PhoneLookup) -> sqlx::Result<Option<Credentials>> {
    sqlx::query_as!(
        Credentials,
        r#"SELECT id, hashed_password, is_active FROM "user" WHERE phone = ANY($1)
           ORDER BY (phone = $2) IS TRUE DESC, created_at LIMIT 1"#,
        &phone.forms(),
        phone.e164().map(Phone::as_str)
    )
    .fetch_optional(db)
    .await
}

/// Login data of one user.
#[instrument(skip_all)]
pub async fn credentials_by_id(db: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<Option<Credentials>> {
    sqlx::query_as!(Credentials, r#"SELECT id, hashed_password, is_active FROM "user" WHERE id = $1"#, id)
        .fetch_optional(db)
        .await
}

/// Stores a new password hash and revokes every token issued before now.
#[instrument(skip_all)]
pub async fn set_password(db: impl PgExecutor<'_>, id: Uuid, hash: &str) -> sqlx::Result<()> {
    // The instant comes from this process's clock, the one that stamps tokens' `iat`, not the
    // database's: a skew between the two must not revoke the token issued right after.
    sqlx::query!(
        r#"UPDATE "user" SET hashed_password = $2, tokens_valid_after = $3 WHERE id = $1"#,
        id,
        hash,
        Utc::now()
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Records a successful login, replacing a legacy hash when one is given.
#[instrument(skip_all)]
pub async fn record_login(db: impl PgExecutor<'_>, id: Uuid, rehash: Option<&str>) -> sqlx::Result<()> {
    sqlx::query!(
        r#"UPDATE "user" SET last_login_at = now(), hashed_password = COALESCE($2, hashed_password) WHERE id = $1"#,
        id,
        rehash
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Records consent given at an OTP verification, if the user had not given it yet.
#[instrument(skip_all)]
pub async fn record_consent(db: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<()> {
    sqlx::query!(
        r#"UPDATE "user" SET has_given_consent = true, consent_given_at = now()
           WHERE id = $1 AND NOT has_given_consent"#,
        id
    )
    .execute(db)
    .await?;
    Ok(())
}

/// A new account.
#[derive(Debug, Clone)]
pub struct NewUser<'a> {
    /// Phone.
    pub phone: &'a Phone,
    /// Display name.
    pub name: &'a str,
    /// E-mail.
    pub email: Option<&'a str>,
    /// Gender.
    pub gender: Option<&'a str>,
    /// Date of birth.
    pub date_of_birth: Option<NaiveDate>,
    /// Place.
    pub place: Option<&'a str>,
    /// Password hash, if the account has a password.
    pub hashed_password: Option<&'a str>,
}

/// Inserts an active account with consent recorded now.
#[instrument(skip_all)]
pub async fn insert_user(db: impl PgExecutor<'_>, new: &NewUser<'_>) -> sqlx::Result<UserRecord> {
    sqlx::query_as!(
        UserRecord,
        r#"INSERT INTO "user" (id, phone, name, email, gender, date_of_birth, place, hashed_password, is_active,
                               has_given_consent, consent_given_at, created_at, updated_at)
           VALUES (gen_random_uuid(), $1, $2, $3, $4, $5, $6, $7, true, true, now(), now(), now())
           RETURNING phone, name, email, gender, date_of_birth, place, id, is_active, has_given_consent, consent_given_at, last_login_at, created_at, updated_at"#,
        new.phone.as_str(),
        new.name,
        new.email,
        new.gender,
        new.date_of_birth,
        new.place,
        new.hashed_password
    )
    .fetch_one(db)
    .await
}

/// Fields of a partial update: `None` leaves a field alone, `Some(None)` clears it.
#[derive(Debug, Clone, Default)]
pub struct UserChanges {
    /// New name.
    pub name: Option<String>,
    /// New e-mail, or clear it.
    pub email: Option<Option<String>>,
    /// New gender, or clear it.
    pub gender: Option<Option<String>>,
    /// New date of birth, or clear it.
    pub date_of_birth: Option<Option<NaiveDate>>,
    /// New place, or clear it.
    pub place: Option<Option<String>>,
    /// Activate or deactivate (deactivation revokes tokens).
    pub is_active: Option<bool>,
    /// Give or withdraw consent (stamps or clears `consent_given_at`).
    pub has_given_consent: Option<bool>,
    /// Last login time, as some clients report it.
    pub last_login_at: Option<Option<DateTime<Utc>>>,
}

/// Applies `changes`; `None` when the user does not exist.
#[instrument(skip_all)]
pub async fn update_user(db: impl PgExecutor<'_>, id: Uuid, changes: &UserChanges) -> sqlx::Result<Option<UserRecord>> {
    let mut q: QueryBuilder<Postgres> = QueryBuilder::new(r#"UPDATE "user" SET updated_at = now()"#);
    if let Some(v) = &changes.name {
        q.push(", name = ").push_bind(v.clone());
    }
    if let Some(v) = &changes.email {
        q.push(", email = ").push_bind(v.clone());
    }
    if let Some(v) = &changes.gender {
        q.push(", gender = ").push_bind(v.clone());
    }
    if let Some(v) = changes.date_of_birth {
        q.push(", date_of_birth = ").push_bind(v);
    }
    if let Some(v) = &changes.place {
        q.push(", place = ").push_bind(v.clone());
    }
    if let Some(v) = changes.last_login_at {
        q.push(", last_login_at = ").push_bind(v);
    }
    if let Some(v) = changes.is_active {
        q.push(", is_active = ").push_bind(v);
        if !v {
            q.push(", tokens_valid_after = ").push_bind(Utc::now());
        }
    }
    if let Some(v) = changes.has_given_consent {
        q.push(", consent_given_at = CASE WHEN ")
            .push_bind(v)
            .push(" THEN (CASE WHEN has_given_consent THEN consent_given_at ELSE now() END) ELSE NULL END");
        q.push(", has_given_consent = ").push_bind(v);
    }
    q.push(" WHERE id = ").push_bind(id).push(format!(" RETURNING {USER_COLUMNS}"));
    q.build_query_as().fetch_optional(db).await
}

/// Deletes a user (role links go with it); false when there was no such user.
#[instrument(skip_all)]
pub async fn delete_user(db: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<bool> {
    Ok(sqlx::query!(r#"DELETE FROM "user" WHERE id = $1"#, id).execute(db).await?.rows_affected() > 0)
}

/// What authenticating a request needs of its user, and what `/auth/me` answers: the profile
/// (with the active flag), since when tokens count, and the roles held now.
#[derive(Debug)]
pub struct Identity {
    /// The user's profile.
    pub user: UserRecord,
    /// Tokens issued before this instant are revoked.
    pub tokens_valid_after: Option<DateTime<Utc>>,
    /// Roles held, by role id.
    pub roles: Vec<RoleRecord>,
}

/// The [`Identity`] of a user, in one statement.
#[instrument(skip_all)]
pub async fn identity(db: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<Option<Identity>> {
    let row = sqlx::query!(
        r#"SELECT u.phone, u.name, u.email, u.gender, u.date_of_birth, u.place, u.id, u.is_active,
                  u.has_given_consent, u.consent_given_at, u.last_login_at, u.created_at, u.updated_at,
                  u.tokens_valid_after,
                  COALESCE(array_agg(r.id ORDER BY r.id) FILTER (WHERE r.id IS NOT NULL), '{}') AS "role_ids!: Vec<i32>",
                  COALESCE(array_agg(r.name::text ORDER BY r.id) FILTER (WHERE r.id IS NOT NULL), '{}')
                      AS "role_names!: Vec<String>",
                  COALESCE(array_agg(r.description ORDER BY r.id) FILTER (WHERE r.id IS NOT NULL), '{}')
                      AS "role_descriptions!: Vec<Option<String>>"
           FROM "user" u
           LEFT JOIN user_roles ur ON ur.user_id = u.id
           LEFT JOIN role r ON r.id = ur.role_id
           WHERE u.id = $1
           GROUP BY u.id"#,
        id
    )
    .fetch_optional(db)
    .await?;
    Ok(row.map(|row| Identity {
        user: UserRecord {
            phone: row.phone,
            name: row.name,
            email: row.email,
            gender: row.gender,
            date_of_birth: row.date_of_birth,
            place: row.place,
            id: row.id,
            is_active: row.is_active,
            has_given_consent: row.has_given_consent,
            consent_given_at: row.consent_given_at,
            last_login_at: row.last_login_at,
            created_at: row.created_at,
            updated_at: row.updated_at,
        },
        tokens_valid_after: row.tokens_valid_after,
        roles: (row.role_ids.into_iter().zip(row.role_names).zip(row.role_descriptions))
            .map(|((id, name), description)| RoleRecord { name, description, id })
            .collect(),
    }))
}

/// True when a user with this id exists.
#[instrument(skip_all)]
pub async fn user_exists(db: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<bool> {
    sqlx::query_scalar!(r#"SELECT EXISTS (SELECT 1 FROM "user" WHERE id = $1) AS "exists!""#, id).fetch_one(db).await
}

/// True when the user owns at least one record.
#[instrument(skip_all)]
pub async fn has_records(db: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<bool> {
    sqlx::query_scalar!(r#"SELECT EXISTS (SELECT 1 FROM record WHERE user_id = $1) AS "exists!""#, id)
        .fetch_one(db)
        .await
}

/// True when an e-mail is used by a user other than `except`.
#[instrument(skip_all)]
pub async fn email_taken(db: impl PgExecutor<'_>, email: &str, except: Option<Uuid>) -> sqlx::Result<bool> {
    sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM "user" WHERE email = $1 AND id IS DISTINCT FROM $2) AS "taken!""#,
        email,
        except
    )
    .fetch_one(db)
    .await
}

/// The roles a user holds, by id.
#[instrument(skip_all)]
pub async fn roles_of(db: impl PgExecutor<'_>, user_id: Uuid) -> sqlx::Result<Vec<RoleRecord>> {
    sqlx::query_as!(
        RoleRecord,
        r#"SELECT r.name::text AS "name!", r.description, r.id FROM user_roles ur JOIN role r ON r.id = ur.role_id
           WHERE ur.user_id = $1 ORDER BY r.id"#,
        user_id
    )
    .fetch_all(db)
    .await
}

/// Every role, by id.
#[instrument(skip_all)]
pub async fn list_roles(db: impl PgExecutor<'_>) -> sqlx::Result<Vec<RoleRecord>> {
    sqlx::query_as!(RoleRecord, r#"SELECT name::text AS "name!", description, id FROM role ORDER BY id"#)
        .fetch_all(db)
        .await
}

/// One role by id.
#[instrument(skip_all)]
pub async fn get_role(db: impl PgExecutor<'_>, id: i32) -> sqlx::Result<Option<RoleRecord>> {
    sqlx::query_as!(RoleRecord, r#"SELECT name::text AS "name!", description, id FROM role WHERE id = $1"#, id)
        .fetch_optional(db)
        .await
}

/// One role by name.
#[instrument(skip_all)]
pub async fn role_by_name(db: impl PgExecutor<'_>, name: &str) -> sqlx::Result<Option<RoleRecord>> {
    sqlx::query_as!(
        RoleRecord,
        r#"SELECT name::text AS "name!", description, id FROM role WHERE name::text = $1"#,
        name
    )
    .fetch_optional(db)
    .await
}

/// The first of `ids` (in the given order) that is not a role.
#[instrument(skip_all)]
pub async fn first_missing_role(db: impl PgExecutor<'_>, ids: &[i32]) -> sqlx::Result<Option<i32>> {
    let existing: Vec<i32> = sqlx::query_scalar!("SELECT id FROM role WHERE id = ANY($1)", ids).fetch_all(db).await?;
    Ok(ids.iter().copied().find(|id| !existing.contains(id)))
}

/// Creates a role.
#[instrument(skip_all)]
pub async fn insert_role(db: impl PgExecutor<'_>, name: &str, description: Option<&str>) -> sqlx::Result<RoleRecord> {
    sqlx::query_as!(
        RoleRecord,
        r#"INSERT INTO role (name, description) VALUES ($1::text::roleenum, $2)
           RETURNING name::text AS "name!", description, id"#,
        name,
        description
    )
    .fetch_one(db)
    .await
}

/// Sets a role's description.
#[instrument(skip_all)]
pub async fn update_role_description(
    db: impl PgExecutor<'_>,
    id: i32,
    description: Option<&str>,
) -> sqlx::Result<Option<RoleRecord>> {
    sqlx::query_as!(
        RoleRecord,
        r#"UPDATE role SET description = $2 WHERE id = $1 RETURNING name::text AS "name!", description, id"#,
        id,
        description
    )
    .fetch_optional(db)
    .await
}

/// True when some user holds the role.
#[instrument(skip_all)]
pub async fn role_in_use(db: impl PgExecutor<'_>, id: i32) -> sqlx::Result<bool> {
    sqlx::query_scalar!(r#"SELECT EXISTS (SELECT 1 FROM user_roles WHERE role_id = $1) AS "in_use!""#, id)
        .fetch_one(db)
        .await
}

/// Deletes a role.
#[instrument(skip_all)]
pub async fn delete_role(db: impl PgExecutor<'_>, id: i32) -> sqlx::Result<bool> {
    Ok(sqlx::query!("DELETE FROM role WHERE id = $1", id).execute(db).await?.rows_affected() > 0)
}
