//! Users: listing, public sign-up, profile updates, password changes and deletion.

use axum::{
    Json,
    extract::{Path, State},
    http::StatusCode,
};
use chrono::Utc;
use uuid::Uuid;

use super::{
    dto::{
        LastLoginRequest, MessageResponse, UserCreateRequest, UserListQuery, UserPasswordChangeRequest,
        UserUpdateRequest, normalize_email,
    },
    shared::{change_own_password, path_uuid, require_self_or, user_not_found},
};
use crate::{
    auth::{
        Auth, CurrentUser, OptionalUser, RoleSet, password,
        roles::{AdminOnly, AdminOrReviewer, UsersDelete, UsersRead, UsersUpdate},
    },
    db::{
        accounts::{self, UserChanges, UserRecord},
        users,
    },
    error::{AppError, ErrorDetail, Result, ResultExt, ValidationErrorBody},
    http::{ValidJson, ValidQuery},
    state::AppState,
};

/// Shows a blank name as `User <last 4 digits>`, as the original's list did.
fn display_name(mut user: UserRecord) -> UserRecord {
    if user.name.trim().is_empty() {
        let digits: Vec<char> = user.phone.chars().collect();
        let tail: String = digits[digits.len().saturating_sub(4)..].iter().collect();
        user.name = format!("User {tail}");
    }
    user
}

/// Users, oldest first; with `phone`, the users having that phone number (a list, maybe empty).
#[utoipa::path(
    get, path = "/api/v1/users/", tag = "users",
    security(("HTTPBearer" = [])),
    params(UserListQuery),
    responses(
        (status = 200, description = "Users", body = [UserRecord]),
        (status = 403, description = "Not an admin", body = ErrorDetail),
        (status = 422, description = "Invalid query", body = ValidationErrorBody),
    )
)]
pub async fn list_users(
    State(state): State<AppState>,
    _caller: Auth<AdminOnly>,
    ValidQuery(query): ValidQuery<UserListQuery>,
) -> Result<Json<Vec<UserRecord>>> {
    let rows = match query.phone.as_deref().map(str::trim).filter(|p| !p.is_empty()) {
        Some(phone) => accounts::users_by_phone(&state.db, phone).await?,
        None => accounts::list_users(&state.db, query.skip.unwrap_or(0), query.limit.unwrap_or(100)).await?,
    };
    Ok(Json(rows.into_iter().map(display_name).collect()))
}

pub(super) fn dedup(ids: &[i32]) -> Vec<i32> {
    let mut out: Vec<i32> = Vec::with_capacity(ids.len());
    for id in ids {
        if !out.contains(id) {
            out.push(*id);
        }
    }
    out
}

/// Signs up (public): the account always gets role `user`, unless an admin creates it with
/// `role_ids`. Consent is required; the phone is stored in E.164.
#[utoipa::path(
    post, path = "/api/v1/users/", tag = "users",
    request_body = UserCreateRequest,
    responses(
        (status = 201, description = "Created", body = UserRecord),
        (status = 400, description = "Consent missing, or an unknown role id (admins)", body = ErrorDetail),
        (status = 409, description = "Phone or e-mail already used", body = ErrorDetail),
        (status = 422, description = "Invalid body", body = ValidationErrorBody),
    )
)]
pub async fn create_user(
    State(state): State<AppState>,
    OptionalUser(caller): OptionalUser,
    ValidJson(body): ValidJson<UserCreateRequest>,
) -> Result<(StatusCode, Json<UserRecord>)> {
    if !body.has_given_consent {
        return Err(AppError::BadRequest("User consent is required to create an account".into()));
    }
    let is_admin = caller.as_ref().is_some_and(|c| c.is_admin());
    let role_ids = match (&body.role_ids, is_admin) {
        (Some(ids), true) => {
            let ids = dedup(ids);
            if let Some(missing) = accounts::first_missing_role(&state.db, &ids).await? {
                return Err(AppError::BadRequest(format!("Role with id {missing} not found")));
            }
            ids
        }
        _ => {
            let role = accounts::role_by_name(&state.db, "user").await?.ok_or_else(|| {
                AppError::Internal(anyhow::anyhow!("the role `user` is missing; run `corpus db init`"))
            })?;
            vec![role.id]
        }
    };
    let phone = body.phone.phone("phone")?;
    let phone_taken = || AppError::Conflict(format!("Phone '{phone}' already exists"));
    if accounts::user_by_phone(&state.db, phone).await?.is_some() {
        return Err(phone_taken());
    }
    let email = body.email.as_deref().and_then(|e| normalize_email(e).ok());
    let email_taken = || AppError::Conflict(format!("Email '{}' already exists", email.clone().unwrap_or_default()));
    if let Some(e) = &email
        && accounts::email_taken(&state.db, e, None).await?
    {
        return Err(email_taken());
    }
    let hash = password::hash(body.password).await?;
    let mut tx = state.db.begin().await?;
    let user = accounts::insert_user(
        &mut *tx,
        &accounts::NewUser {
            phone,
            name: body.name.trim(),
            email: email.as_deref(),
            gender: body.gender.as_deref(),
            date_of_birth: body.date_of_birth,
            place: body.place.as_deref(),
            hashed_password: Some(&hash),
        },
    )
    .await
    .on_constraint("ix_user_phone", phone_taken)
    .map_err(|e| e.on_constraint("ix_user_email", email_taken))?;
    users::add_roles(&mut *tx, user.id, &role_ids).await?;
    tx.commit().await?;
    tracing::info!(user_id = %user.id, by_admin = is_admin, "account created");
    Ok((StatusCode::CREATED, Json(user)))
}

/// One user (admins, reviewers, and the user themself).
#[utoipa::path(
    get, path = "/api/v1/users/{user_id}", tag = "users",
    security(("HTTPBearer" = [])),
    params(("user_id" = Uuid, Path, description = "User id")),
    responses(
        (status = 200, description = "The user", body = UserRecord),
        (status = 403, description = "Not allowed", body = ErrorDetail),
        (status = 404, description = "`User with id {id} not found`", body = ErrorDetail),
        (status = 422, description = "Not a UUID", body = ValidationErrorBody),
    )
)]
pub async fn get_user(
    State(state): State<AppState>,
    caller: CurrentUser,
    Path(user_id): Path<String>,
) -> Result<Json<UserRecord>> {
    let user_id = path_uuid("user_id", &user_id)?;
    require_self_or::<AdminOrReviewer>(&caller, user_id)?;
    Ok(Json(accounts::get_user(&state.db, user_id).await?.ok_or_else(|| user_not_found(user_id))?))
}

/// Applies an update after the caller's rights were checked.
async fn apply_update(state: &AppState, user_id: Uuid, body: UserUpdateRequest) -> Result<UserRecord> {
    let current = accounts::get_user(&state.db, user_id).await?.ok_or_else(|| user_not_found(user_id))?;
    let email = match body.email {
        Some(Some(e)) => Some(Some(normalize_email(&e).unwrap_or(e))),
        other => other,
    };
    let email_taken = |e: &str| AppError::Conflict(format!("Email '{e}' already exists"));
    if let Some(Some(e)) = &email
        && current.email.as_deref() != Some(e.as_str())
        && accounts::email_taken(&state.db, e, Some(user_id)).await?
    {
        return Err(email_taken(e));
    }
    let changes = UserChanges {
        name: body.name.flatten().map(|n| n.trim().to_owned()),
        email: email.clone(),
        gender: body.gender,
        date_of_birth: body.date_of_birth,
        place: body.place,
        is_active: body.is_active.flatten(),
        has_given_consent: body.has_given_consent.flatten(),
        // A client's clock may run ahead, and a local time read as UTC is ahead east of Greenwich:
        // a login cannot be in the future, so such a time is stored as now.
        last_login_at: body.last_login_at.map(|at| at.map(|at| at.min(Utc::now()))),
    };
    let updated = accounts::update_user(&state.db, user_id, &changes)
        .await
        .on_constraint("ix_user_email", || email_taken(email.clone().flatten().as_deref().unwrap_or_default()))?
        .ok_or_else(|| user_not_found(user_id))?;
    state.identities.forget(user_id);
    if changes.is_active == Some(false) {
        tracing::info!(user_id = %user_id, "account deactivated; its tokens are revoked");
    }
    Ok(updated)
}

/// Replaces the given fields of a user (admins). `is_active: false` locks the user out at once.
#[utoipa::path(
    put, path = "/api/v1/users/{user_id}", tag = "users",
    security(("HTTPBearer" = [])),
    params(("user_id" = Uuid, Path, description = "User id")),
    request_body = UserUpdateRequest,
    responses(
        (status = 200, description = "Updated", body = UserRecord),
        (status = 403, description = "Not an admin", body = ErrorDetail),
        (status = 404, description = "`User with id {id} not found`", body = ErrorDetail),
        (status = 409, description = "`Email '<e>' already exists`", body = ErrorDetail),
        (status = 422, description = "Invalid body", body = ValidationErrorBody),
    )
)]
pub async fn put_user(
    State(state): State<AppState>,
    _caller: Auth<UsersUpdate>,
    Path(user_id): Path<String>,
    ValidJson(body): ValidJson<UserUpdateRequest>,
) -> Result<Json<UserRecord>> {
    let user_id = path_uuid("user_id", &user_id)?;
    Ok(Json(apply_update(&state, user_id, body).await?))
}

/// Partly updates a user: the user themself may change their own profile fields
/// (name, email, gender, date of birth, place, consent, last login); admins may also set `is_active`.
#[utoipa::path(
    patch, path = "/api/v1/users/{user_id}", tag = "users",
    security(("HTTPBearer" = [])),
    params(("user_id" = Uuid, Path, description = "User id")),
    request_body = UserUpdateRequest,
    responses(
        (status = 200, description = "Updated", body = UserRecord),
        (status = 403, description = "Not this user nor an admin, or a field only admins set", body = ErrorDetail),
        (status = 404, description = "`User with id {id} not found`", body = ErrorDetail),
        (status = 409, description = "`Email '<e>' already exists`", body = ErrorDetail),
        (status = 422, description = "Invalid body", body = ValidationErrorBody),
    )
)]
pub async fn patch_user(
    State(state): State<AppState>,
    caller: CurrentUser,
    Path(user_id): Path<String>,
    ValidJson(body): ValidJson<UserUpdateRequest>,
) -> Result<Json<UserRecord>> {
    let user_id = path_uuid("user_id", &user_id)?;
    require_self_or::<UsersUpdate>(&caller, user_id)?;
    if !UsersUpdate::allows(&caller.roles) && body.is_active.is_some() {
        return Err(AppError::Forbidden(UsersUpdate::denied_message(&caller.roles)));
    }
    Ok(Json(apply_update(&state, user_id, body).await?))
}

/// Changes a user's password (the production service's call): the current password and the new
/// one twice. The user themself (or an admin, who still needs the current password; admins set
/// passwords with `/auth/reset-password`); every token issued before the change stops working.
#[utoipa::path(
    put, path = "/api/v1/users/{user_id}/change-password", tag = "users",
    security(("HTTPBearer" = [])),
    params(("user_id" = Uuid, Path, description = "User id")),
    request_body = UserPasswordChangeRequest,
    responses(
        (status = 200, description = "`Password changed successfully`", body = MessageResponse),
        (status = 400, description = "`User does not have a password set` or `Incorrect current password`", body = ErrorDetail),
        (status = 403, description = "Not this user nor an admin", body = ErrorDetail),
        (status = 404, description = "`User with id {id} not found`", body = ErrorDetail),
        (status = 422, description = "Invalid body, or the new passwords differ", body = ValidationErrorBody),
    )
)]
pub async fn change_password(
    State(state): State<AppState>,
    caller: CurrentUser,
    Path(user_id): Path<String>,
    ValidJson(body): ValidJson<UserPasswordChangeRequest>,
) -> Result<Json<MessageResponse>> {
    let user_id = path_uuid("user_id", &user_id)?;
    require_self_or::<UsersUpdate>(&caller, user_id)?;
    accounts::get_user(&state.db, user_id).await?.ok_or_else(|| user_not_found(user_id))?;
    change_own_password(&state, user_id, body.current_password, body.new_password).await?;
    Ok(Json(MessageResponse::new("Password changed successfully")))
}

/// Records the caller's last login, as the official app does right after logging in
/// (the user themself or an admin). Answers the updated user.
#[utoipa::path(
    patch, path = "/api/v1/users/{user_id}/last-login", tag = "users",
    security(("HTTPBearer" = [])),
    params(("user_id" = Uuid, Path, description = "User id")),
    request_body = LastLoginRequest,
    responses(
        (status = 200, description = "Updated", body = UserRecord),
        (status = 403, description = "Not this user nor an admin", body = ErrorDetail),
        (status = 404, description = "`User with id {id} not found`", body = ErrorDetail),
        (status = 422, description = "Invalid body", body = ValidationErrorBody),
    )
)]
pub async fn update_last_login(
    State(state): State<AppState>,
    caller: CurrentUser,
    Path(user_id): Path<String>,
    ValidJson(body): ValidJson<LastLoginRequest>,
) -> Result<Json<UserRecord>> {
    let user_id = path_uuid("user_id", &user_id)?;
    require_self_or::<UsersUpdate>(&caller, user_id)?;
    let at = body.last_login.unwrap_or_else(Utc::now);
    let changes = UserUpdateRequest { last_login_at: Some(Some(at)), ..Default::default() };
    Ok(Json(apply_update(&state, user_id, changes).await?))
}

/// Deletes a user without records (their role links go with them); a user with records must be
/// deactivated instead.
#[utoipa::path(
    delete, path = "/api/v1/users/{user_id}", tag = "users",
    security(("HTTPBearer" = [])),
    params(("user_id" = Uuid, Path, description = "User id")),
    responses(
        (status = 200, description = "`User <name> deleted successfully`", body = MessageResponse),
        (status = 403, description = "Not an admin", body = ErrorDetail),
        (status = 404, description = "`User with id {id} not found`", body = ErrorDetail),
        (status = 409, description = "The user has records", body = ErrorDetail),
    )
)]
pub async fn delete_user(
    State(state): State<AppState>,
    caller: Auth<UsersDelete>,
    Path(user_id): Path<String>,
) -> Result<Json<MessageResponse>> {
    let user_id = path_uuid("user_id", &user_id)?;
    let user = accounts::get_user(&state.db, user_id).await?.ok_or_else(|| user_not_found(user_id))?;
    let has_records = || {
        AppError::Conflict(format!(
            "User {} has records and cannot be deleted; deactivate the account instead",
            user.name
        ))
    };
    if accounts::has_records(&state.db, user_id).await? {
        return Err(has_records());
    }
    accounts::delete_user(&state.db, user_id).await.on_constraint("record_user_id_fkey", has_records)?;
    state.identities.forget(user_id);
    tracing::info!(user_id = %user_id, admin_id = %caller.id, "account deleted");
    Ok(Json(MessageResponse::new(format!("User {} deleted successfully", user.name))))
}

/// The user a phone number designates (any form: `9000000001`, `+919000000001`, `%2B91...`).
#[utoipa::path(
    get, path = "/api/v1/users/phone/{phone}", tag = "users",
    security(("HTTPBearer" = [])),
    params(("phone" = String, Path, description = "Phone number")),
    responses(
        (status = 200, description = "The user", body = UserRecord),
        (status = 403, description = "Not an admin or reviewer", body = ErrorDetail),
        (status = 404, description = "`User with phone {phone} not found`", body = ErrorDetail),
    )
)]
pub async fn get_user_by_phone(
    State(state): State<AppState>,
    _caller: Auth<UsersRead>,
    Path(phone): Path<String>,
) -> Result<Json<UserRecord>> {
    let user = accounts::user_by_phone(&state.db, &phone)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("User with phone {phone} not found")))?;
    Ok(Json(user))
}
