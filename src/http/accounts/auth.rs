//! Password authentication: login, the caller's profile, token refresh, password change and the
//! admin-only password reset.

use std::{sync::OnceLock, time::Duration};

use axum::{Json, extract::State};

use super::{
    dto::{LoginRequest, MessageResponse, PasswordChangeRequest, PasswordResetRequest, TokenWithUser, UserWithRoles},
    otp::limiter_down,
    shared::{change_own_password, record_login, user_with_roles},
};
use crate::{
    auth::{
        Auth, CurrentUser,
        password::{self, Verified},
        roles::AdminOnly,
    },
    db::accounts,
    domain::PhoneLookup,
    error::{AppError, ErrorDetail, Result, ValidationErrorBody},
    http::ValidJson,
    state::AppState,
};

/// Window in which failed password logins of one phone are counted.
const LOGIN_FAILURE_WINDOW: Duration = Duration::from_secs(15 * 60);

/// Checks a password against a throwaway hash, so that an unknown phone costs as much time as a
/// wrong password and response times do not reveal which phones have accounts.
async fn spend_equal_time(password: String) {
    static DUMMY: OnceLock<String> = OnceLock::new();
    let dummy = match DUMMY.get() {
        Some(hash) => hash.clone(),
        None => match password::hash("not-a-real-password".to_owned()).await {
            Ok(hash) => DUMMY.get_or_init(|| hash).clone(),
            Err(_) => return,
        },
    };
    let _ = password::verify(password, dummy).await;
}

/// Logs in with phone and password; answers a token and the caller with roles.
///
/// The phone may be given in any form (`9000000001`, `+91 90000 00001`); accounts carried over
/// from the original with a raw phone still match. A legacy bcrypt hash is replaced by argon2id.
#[utoipa::path(
    post, path = "/api/v1/auth/login", tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Logged in", body = TokenWithUser),
        (status = 401, description = "`Incorrect phone number or password` or `Inactive user`", body = ErrorDetail),
        (status = 422, description = "Invalid body", body = ValidationErrorBody),
    )
)]
pub async fn login(
    State(state): State<AppState>,
    ValidJson(body): ValidJson<LoginRequest>,
) -> Result<Json<TokenWithUser>> {
    let incorrect = || AppError::Unauthorized("Incorrect phone number or password".into());
    // Every attempt counts against the phone and a success takes its count back, so only
    // failures accumulate; once over the limit even the right password waits for the window.
    let phone = PhoneLookup::typed(&body.phone);
    let key = format!("login:phone:{}", phone.key());
    let limit = state.config.limits.login_max_failures;
    if limit > 0 && !state.limiter.hit(&key, limit, LOGIN_FAILURE_WINDOW).await.map_err(limiter_down)? {
        return Err(AppError::TooManyRequests("Too many failed login attempts. Please try again later.".into()));
    }
    let credentials = accounts::credentials_by_phone(&state.db, &phone).await?;
    let Some((credentials, stored)) = credentials.and_then(|c| c.hashed_password.clone().map(|h| (c, h))) else {
        spend_equal_time(body.password).await;
        return Err(incorrect());
    };
    let verified = password::verify(body.password.clone(), stored).await?;
    if verified == Verified::No {
        return Err(incorrect());
    }
    if limit > 0 {
        let _ = state.limiter.undo(&key).await;
    }
    if !credentials.is_active {
        return Err(AppError::Unauthorized("Inactive user".into()));
    }
    let rehash = match verified {
        Verified::YesRehash => Some(password::hash(body.password).await?),
        _ => None,
    };
    record_login(&state, credentials.id, rehash.as_deref()).await?;
    let access_token = state.tokens.issue(credentials.id)?;
    let user = user_with_roles(&state, credentials.id).await?;
    Ok(Json(TokenWithUser { access_token, token_type: "bearer", user: Some(user) }))
}

/// The caller's profile, with roles.
#[utoipa::path(
    get, path = "/api/v1/auth/me", tag = "auth",
    security(("HTTPBearer" = [])),
    responses(
        (status = 200, description = "The caller", body = UserWithRoles),
        (status = 401, description = "Invalid, expired or revoked token", body = ErrorDetail),
        (status = 403, description = "`Not authenticated`", body = ErrorDetail),
    )
)]
pub async fn me(caller: CurrentUser) -> Result<Json<UserWithRoles>> {
    // The identity that authenticated the request is the profile: read at most once per change.
    Ok(Json(UserWithRoles { user: caller.identity.user.clone(), roles: caller.identity.roles.clone() }))
}

/// A fresh access token for the caller.
#[utoipa::path(
    post, path = "/api/v1/auth/refresh", tag = "auth",
    security(("HTTPBearer" = [])),
    responses(
        (status = 200, description = "New token", body = TokenWithUser),
        (status = 401, description = "Invalid, expired or revoked token", body = ErrorDetail),
        (status = 403, description = "`Not authenticated`", body = ErrorDetail),
    )
)]
pub async fn refresh(State(state): State<AppState>, caller: CurrentUser) -> Result<Json<TokenWithUser>> {
    let access_token = state.tokens.issue(caller.id)?;
    Ok(Json(TokenWithUser { access_token, token_type: "bearer", user: None }))
}

/// Changes the caller's password; every token issued before the change stops working.
#[utoipa::path(
    post, path = "/api/v1/auth/change-password", tag = "auth",
    security(("HTTPBearer" = [])),
    request_body = PasswordChangeRequest,
    responses(
        (status = 200, description = "`Password changed successfully`", body = MessageResponse),
        (status = 400, description = "`User does not have a password set` or `Incorrect current password`", body = ErrorDetail),
        (status = 403, description = "`Not authenticated`", body = ErrorDetail),
        (status = 422, description = "Invalid body", body = ValidationErrorBody),
    )
)]
pub async fn change_password(
    State(state): State<AppState>,
    caller: CurrentUser,
    ValidJson(body): ValidJson<PasswordChangeRequest>,
) -> Result<Json<MessageResponse>> {
    change_own_password(&state, caller.id, body.current_password, body.new_password).await?;
    Ok(Json(MessageResponse::new("Password changed successfully")))
}

/// Sets another user's password (admins only; users reset their own through
/// `/auth/forgot-password`). The user's existing tokens stop working.
#[utoipa::path(
    post, path = "/api/v1/auth/reset-password", tag = "auth",
    security(("HTTPBearer" = [])),
    request_body = PasswordResetRequest,
    responses(
        (status = 200, description = "`Password reset successfully`", body = MessageResponse),
        (status = 403, description = "Not an admin", body = ErrorDetail),
        (status = 404, description = "`User not found`", body = ErrorDetail),
        (status = 422, description = "Invalid body", body = ValidationErrorBody),
    )
)]
pub async fn reset_password(
    State(state): State<AppState>,
    caller: Auth<AdminOnly>,
    ValidJson(body): ValidJson<PasswordResetRequest>,
) -> Result<Json<MessageResponse>> {
    let user = accounts::user_by_phone(&state.db, &body.phone)
        .await?
        .ok_or_else(|| AppError::NotFound("User not found".into()))?;
    let hash = password::hash(body.new_password).await?;
    accounts::set_password(&state.db, user.id, &hash).await?;
    state.identities.forget(user.id);
    tracing::info!(user_id = %user.id, admin_id = %caller.id, "password reset by an admin");
    Ok(Json(MessageResponse::new("Password reset successfully")))
}
