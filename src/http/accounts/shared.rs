//! What the accounts handlers share: loading a user with roles, recording a login, the original's 404, path
//! parameters, the "the user themself or these roles" rule, and changing one's own password.

use uuid::Uuid;

use super::dto::UserWithRoles;
use crate::{
    auth::{
        CurrentUser, RoleSet,
        password::{self, Verified},
    },
    db::accounts,
    error::{AppError, FieldError, Result},
    state::AppState,
};

/// A user with their roles, or 404 `User with id {id} not found`: their identity, from memory when
/// it is held (exact, see `auth::identities`), else in one statement (then held for their next
/// request: a login is followed by the client's `/auth/me`).
pub(super) async fn user_with_roles(state: &AppState, id: Uuid) -> Result<UserWithRoles> {
    let identity = state.identities.get(&state.db, id).await?.ok_or_else(|| user_not_found(id))?;
    Ok(UserWithRoles { user: identity.user.clone(), roles: identity.roles.clone() })
}

/// Records a successful login (replacing a legacy hash when one is given) and forgets the user's
/// identity here at once, so the answer and the next request show it.
pub(super) async fn record_login(state: &AppState, id: Uuid, rehash: Option<&str>) -> Result<()> {
    accounts::record_login(&state.db, id, rehash).await?;
    state.identities.forget(id);
    Ok(())
}

/// The original's 404 for a user id.
pub(super) fn user_not_found(id: Uuid) -> AppError {
    AppError::NotFound(format!("User with id {id} not found"))
}

/// Parses a UUID path parameter (surrounding spaces allowed); 422 `uuid_parsing` at
/// `["path", name]` otherwise.
pub(super) fn path_uuid(name: &str, raw: &str) -> Result<Uuid> {
    Uuid::parse_str(raw.trim()).map_err(|_| {
        AppError::field(
            FieldError::new("uuid_parsing", &["path", name], "Input should be a valid UUID").with_input(raw.to_owned()),
        )
    })
}

/// Parses an integer path parameter; 422 `int_parsing` at `["path", name]` otherwise.
pub(super) fn path_int(name: &str, raw: &str) -> Result<i32> {
    raw.trim().parse().map_err(|_| {
        AppError::field(
            FieldError::new(
                "int_parsing",
                &["path", name],
                "Input should be a valid integer, unable to parse string as an integer",
            )
            .with_input(raw.to_owned()),
        )
    })
}

/// Passes the user themself and holders of the roles of `R`; others get `R`'s 403.
pub(super) fn require_self_or<R: RoleSet>(caller: &CurrentUser, target: Uuid) -> Result<()> {
    if caller.id == target || R::allows(&caller.roles) {
        Ok(())
    } else {
        Err(AppError::Forbidden(R::denied_message(&caller.roles)))
    }
}

/// Replaces `user_id`'s password after checking the current one; the user's older tokens stop
/// working.
pub(super) async fn change_own_password(
    state: &AppState,
    user_id: uuid::Uuid,
    current_password: String,
    new_password: String,
) -> Result<()> {
    let credentials = accounts::credentials_by_id(&state.db, user_id)
        .await?
        .ok_or_else(|| AppError::Unauthorized("Could not validate credentials".into()))?;
    let Some(stored) = credentials.hashed_password else {
        return Err(AppError::BadRequest("User does not have a password set".into()));
    };
    if password::verify(current_password, stored).await? == Verified::No {
        return Err(AppError::BadRequest("Incorrect current password".into()));
    }
    let hash = password::hash(new_password).await?;
    accounts::set_password(&state.db, user_id, &hash).await?;
    state.identities.forget(user_id);
    tracing::info!(user_id = %user_id, "password changed");
    Ok(())
}
