//! A user's roles: reading them, replacing, adding and removing one.

use axum::{
    Json,
    extract::{Path, State},
};

use super::{
    dto::{AddRoleQuery, UserWithRoles},
    shared::{path_int, path_uuid, require_self_or, user_not_found, user_with_roles},
    users::dedup,
};
use crate::{
    auth::{
        Auth, CurrentUser,
        roles::{UsersCreate, UsersDelete, UsersRead, UsersUpdate},
    },
    db::{
        accounts::{self, RoleRecord},
        users,
    },
    error::{AppError, ErrorDetail, Result, ValidationErrorBody},
    http::{ValidJson, ValidQuery},
    state::AppState,
};
/// A user with their roles (admins, reviewers, and the user themself).
#[utoipa::path(
    get, path = "/api/v1/users/{user_id}/with-roles", tag = "users",
    security(("HTTPBearer" = [])),
    params(("user_id" = Uuid, Path, description = "User id")),
    responses(
        (status = 200, description = "The user with roles", body = UserWithRoles),
        (status = 403, description = "Not allowed", body = ErrorDetail),
        (status = 404, description = "`User with id {id} not found`", body = ErrorDetail),
    )
)]
pub async fn get_user_with_roles(
    State(state): State<AppState>,
    caller: CurrentUser,
    Path(user_id): Path<String>,
) -> Result<Json<UserWithRoles>> {
    let user_id = path_uuid("user_id", &user_id)?;
    require_self_or::<UsersRead>(&caller, user_id)?;
    Ok(Json(user_with_roles(&state, user_id).await?))
}

/// A user's roles (admins, reviewers, and the user themself).
#[utoipa::path(
    get, path = "/api/v1/users/{user_id}/roles", tag = "users",
    security(("HTTPBearer" = [])),
    params(("user_id" = Uuid, Path, description = "User id")),
    responses(
        (status = 200, description = "Roles", body = [RoleRecord]),
        (status = 403, description = "Not allowed", body = ErrorDetail),
        (status = 404, description = "`User with id {id} not found`", body = ErrorDetail),
    )
)]
pub async fn get_user_roles(
    State(state): State<AppState>,
    caller: CurrentUser,
    Path(user_id): Path<String>,
) -> Result<Json<Vec<RoleRecord>>> {
    let user_id = path_uuid("user_id", &user_id)?;
    require_self_or::<UsersRead>(&caller, user_id)?;
    accounts::get_user(&state.db, user_id).await?.ok_or_else(|| user_not_found(user_id))?;
    Ok(Json(accounts::roles_of(&state.db, user_id).await?))
}

/// Replaces a user's roles with a JSON array of role ids (duplicates ignored); effective on the
/// user's next request.
#[utoipa::path(
    post, path = "/api/v1/users/{user_id}/roles", tag = "users",
    security(("HTTPBearer" = [])),
    params(("user_id" = Uuid, Path, description = "User id")),
    request_body = Vec<i32>,
    responses(
        (status = 200, description = "The user's roles now", body = [RoleRecord]),
        (status = 400, description = "`Role with id {id} not found`", body = ErrorDetail),
        (status = 403, description = "Not an admin", body = ErrorDetail),
        (status = 404, description = "`User with id {id} not found`", body = ErrorDetail),
        (status = 422, description = "Not an array of integers", body = ValidationErrorBody),
    )
)]
pub async fn replace_user_roles(
    State(state): State<AppState>,
    caller: Auth<UsersCreate>,
    Path(user_id): Path<String>,
    ValidJson(role_ids): ValidJson<Vec<i32>>,
) -> Result<Json<Vec<RoleRecord>>> {
    let user_id = path_uuid("user_id", &user_id)?;
    accounts::get_user(&state.db, user_id).await?.ok_or_else(|| user_not_found(user_id))?;
    let ids = dedup(&role_ids);
    if let Some(missing) = accounts::first_missing_role(&state.db, &ids).await? {
        return Err(AppError::BadRequest(format!("Role with id {missing} not found")));
    }
    let mut tx = state.db.begin().await?;
    users::replace_roles(&mut tx, user_id, &ids).await?;
    tx.commit().await?;
    state.identities.forget(user_id);
    tracing::info!(user_id = %user_id, admin_id = %caller.id, roles = ?ids, "roles replaced");
    Ok(Json(accounts::roles_of(&state.db, user_id).await?))
}

/// Adds one role to a user.
#[utoipa::path(
    put, path = "/api/v1/users/{user_id}/roles/add", tag = "users",
    security(("HTTPBearer" = [])),
    params(("user_id" = Uuid, Path, description = "User id"), AddRoleQuery),
    responses(
        (status = 200, description = "The user's roles now", body = [RoleRecord]),
        (status = 400, description = "`Role with id {id} not found`", body = ErrorDetail),
        (status = 403, description = "Not an admin", body = ErrorDetail),
        (status = 404, description = "`User with id {id} not found`", body = ErrorDetail),
        (status = 422, description = "`role_id` missing or not an integer", body = ValidationErrorBody),
    )
)]
pub async fn add_user_role(
    State(state): State<AppState>,
    caller: Auth<UsersUpdate>,
    Path(user_id): Path<String>,
    ValidQuery(query): ValidQuery<AddRoleQuery>,
) -> Result<Json<Vec<RoleRecord>>> {
    let user_id = path_uuid("user_id", &user_id)?;
    accounts::get_user(&state.db, user_id).await?.ok_or_else(|| user_not_found(user_id))?;
    if accounts::get_role(&state.db, query.role_id).await?.is_none() {
        return Err(AppError::BadRequest(format!("Role with id {} not found", query.role_id)));
    }
    users::add_roles(&state.db, user_id, &[query.role_id]).await?;
    state.identities.forget(user_id);
    tracing::info!(user_id = %user_id, admin_id = %caller.id, role_id = query.role_id, "role added");
    Ok(Json(accounts::roles_of(&state.db, user_id).await?))
}

/// Removes one role from a user (no-op when the user does not hold it).
#[utoipa::path(
    delete, path = "/api/v1/users/{user_id}/roles/{role_id}", tag = "users",
    security(("HTTPBearer" = [])),
    params(("user_id" = Uuid, Path, description = "User id"), ("role_id" = i32, Path, description = "Role id")),
    responses(
        (status = 200, description = "The user's remaining roles", body = [RoleRecord]),
        (status = 400, description = "`Role with id {id} not found`", body = ErrorDetail),
        (status = 403, description = "Not an admin", body = ErrorDetail),
        (status = 404, description = "`User with id {id} not found`", body = ErrorDetail),
    )
)]
pub async fn remove_user_role(
    State(state): State<AppState>,
    caller: Auth<UsersDelete>,
    Path((user_id, role_id)): Path<(String, String)>,
) -> Result<Json<Vec<RoleRecord>>> {
    let user_id = path_uuid("user_id", &user_id)?;
    let role_id = path_int("role_id", &role_id)?;
    accounts::get_user(&state.db, user_id).await?.ok_or_else(|| user_not_found(user_id))?;
    if accounts::get_role(&state.db, role_id).await?.is_none() {
        return Err(AppError::BadRequest(format!("Role with id {role_id} not found")));
    }
    users::remove_role(&state.db, user_id, role_id).await?;
    state.identities.forget(user_id);
    tracing::info!(user_id = %user_id, admin_id = %caller.id, role_id, "role removed");
    Ok(Json(accounts::roles_of(&state.db, user_id).await?))
}
