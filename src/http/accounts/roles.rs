//! Role administration (admins only).

use axum::{Json, extract::State, http::StatusCode};

use super::dto::{MessageResponse, RoleCreateRequest, RoleUpdateRequest};
use crate::{
    auth::{Auth, roles::AdminOnly},
    db::accounts::{self, RoleRecord},
    error::{AppError, ErrorDetail, Result, ResultExt, ValidationErrorBody},
    http::{ValidJson, ValidPath},
    state::AppState,
};

fn role_not_found(id: i32) -> AppError {
    AppError::NotFound(format!("Role with id {id} not found"))
}

/// Every role, by id.
#[utoipa::path(
    get, path = "/api/v1/roles/", tag = "roles",
    security(("HTTPBearer" = [])),
    responses(
        (status = 200, description = "Roles", body = [RoleRecord]),
        (status = 403, description = "Not an admin", body = ErrorDetail),
    )
)]
pub async fn list_roles(State(state): State<AppState>, _caller: Auth<AdminOnly>) -> Result<Json<Vec<RoleRecord>>> {
    Ok(Json(accounts::list_roles(&state.db).await?))
}

/// One role.
#[utoipa::path(
    get, path = "/api/v1/roles/{role_id}", tag = "roles",
    security(("HTTPBearer" = [])),
    params(("role_id" = i32, Path, description = "Role id")),
    responses(
        (status = 200, description = "The role", body = RoleRecord),
        (status = 403, description = "Not an admin", body = ErrorDetail),
        (status = 404, description = "`Role with id {id} not found`", body = ErrorDetail),
        (status = 422, description = "Not an integer", body = ValidationErrorBody),
    )
)]
pub async fn get_role(
    State(state): State<AppState>,
    _caller: Auth<AdminOnly>,
    ValidPath(role_id): ValidPath<i32>,
) -> Result<Json<RoleRecord>> {
    Ok(Json(accounts::get_role(&state.db, role_id).await?.ok_or_else(|| role_not_found(role_id))?))
}

/// Creates a role (possible only after one of the three was deleted).
#[utoipa::path(
    post, path = "/api/v1/roles/", tag = "roles",
    security(("HTTPBearer" = [])),
    request_body = RoleCreateRequest,
    responses(
        (status = 201, description = "Created", body = RoleRecord),
        (status = 403, description = "Not an admin", body = ErrorDetail),
        (status = 409, description = "`Role '<name>' already exists`", body = ErrorDetail),
        (status = 422, description = "Invalid body", body = ValidationErrorBody),
    )
)]
pub async fn create_role(
    State(state): State<AppState>,
    _caller: Auth<AdminOnly>,
    ValidJson(body): ValidJson<RoleCreateRequest>,
) -> Result<(StatusCode, Json<RoleRecord>)> {
    let name = body.name.as_str();
    let exists = || AppError::Conflict(format!("Role '{name}' already exists"));
    if accounts::role_by_name(&state.db, name).await?.is_some() {
        return Err(exists());
    }
    let role = accounts::insert_role(&state.db, name, body.description.as_deref())
        .await
        .on_constraint("ix_role_name", exists)?;
    Ok((StatusCode::CREATED, Json(role)))
}

/// Sets a role's description.
#[utoipa::path(
    put, path = "/api/v1/roles/{role_id}", tag = "roles",
    security(("HTTPBearer" = [])),
    params(("role_id" = i32, Path, description = "Role id")),
    request_body = RoleUpdateRequest,
    responses(
        (status = 200, description = "Updated", body = RoleRecord),
        (status = 403, description = "Not an admin", body = ErrorDetail),
        (status = 404, description = "`Role with id {id} not found`", body = ErrorDetail),
        (status = 422, description = "Invalid body", body = ValidationErrorBody),
    )
)]
pub async fn update_role(
    State(state): State<AppState>,
    _caller: Auth<AdminOnly>,
    ValidPath(role_id): ValidPath<i32>,
    ValidJson(body): ValidJson<RoleUpdateRequest>,
) -> Result<Json<RoleRecord>> {
    let role = accounts::update_role_description(&state.db, role_id, body.description.as_deref())
        .await?
        .ok_or_else(|| role_not_found(role_id))?;
    // Every holder's profile shows the description.
    state.identities.forget_all();
    Ok(Json(role))
}

/// Deletes a role that no user holds.
#[utoipa::path(
    delete, path = "/api/v1/roles/{role_id}", tag = "roles",
    security(("HTTPBearer" = [])),
    params(("role_id" = i32, Path, description = "Role id")),
    responses(
        (status = 200, description = "`Role <name> deleted successfully`", body = MessageResponse),
        (status = 403, description = "Not an admin", body = ErrorDetail),
        (status = 404, description = "`Role with id {id} not found`", body = ErrorDetail),
        (status = 409, description = "Some user holds the role", body = ErrorDetail),
    )
)]
pub async fn delete_role(
    State(state): State<AppState>,
    _caller: Auth<AdminOnly>,
    ValidPath(role_id): ValidPath<i32>,
) -> Result<Json<MessageResponse>> {
    let role = accounts::get_role(&state.db, role_id).await?.ok_or_else(|| role_not_found(role_id))?;
    let in_use = || AppError::Conflict(format!("Role {} is assigned to users and cannot be deleted", role.name));
    if accounts::role_in_use(&state.db, role_id).await? {
        return Err(in_use());
    }
    accounts::delete_role(&state.db, role_id).await.on_constraint("user_roles_role_id_fkey", in_use)?;
    Ok(Json(MessageResponse::new(format!("Role {} deleted successfully", role.name))))
}
