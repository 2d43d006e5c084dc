//! Accounts: password and OTP authentication, users, roles and contribution summaries
//! (upstream-api.md §4, §6.1-§6.4), with the access rules of [`crate::auth::policy`].

mod auth;
mod contributions;
pub mod dto;
mod otp;
mod roles;
mod shared;
mod user_roles;
mod users;

use axum::{
    Router,
    routing::{get, post, put},
};
use utoipa::OpenApi;

use crate::{db::accounts, state::AppState};

/// Routes of the accounts area (relative to `/api/v1`).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/auth/login", post(auth::login))
        .route("/auth/me", get(auth::me))
        .route("/auth/refresh", post(auth::refresh))
        .route("/auth/change-password", post(auth::change_password))
        .route("/auth/reset-password", post(auth::reset_password))
        .route("/auth/send-otp", post(otp::send_otp))
        .route("/auth/resend-otp", post(otp::resend_otp))
        .route("/auth/verify-otp", post(otp::verify_otp))
        .route("/auth/login/send-otp", post(otp::login_send_otp))
        .route("/auth/login/resend-otp", post(otp::login_resend_otp))
        .route("/auth/login/verify-otp", post(otp::login_verify_otp))
        .route("/auth/signup/send-otp", post(otp::signup_send_otp))
        .route("/auth/signup/resend-otp", post(otp::signup_resend_otp))
        .route("/auth/signup/verify-otp", post(otp::signup_verify_otp))
        .route("/auth/forgot-password", post(otp::forgot_password))
        .route("/auth/forgot-password/verify", post(otp::forgot_password_verify))
        .route("/auth/forgot-password/init", post(otp::forgot_password_init))
        .route("/auth/forgot-password/confirm", post(otp::forgot_password_confirm))
        .route("/roles", get(roles::list_roles).post(roles::create_role))
        .route("/roles/{role_id}", get(roles::get_role).put(roles::update_role).delete(roles::delete_role))
        .route("/users", get(users::list_users).post(users::create_user))
        .route("/users/phone/{phone}", get(users::get_user_by_phone))
        .route(
            "/users/{user_id}",
            get(users::get_user).put(users::put_user).patch(users::patch_user).delete(users::delete_user),
        )
        .route("/users/{user_id}/last-login", axum::routing::patch(users::update_last_login))
        .route("/users/{user_id}/change-password", put(users::change_password))
        .route("/users/{user_id}/with-roles", get(user_roles::get_user_with_roles))
        .route("/users/{user_id}/roles", get(user_roles::get_user_roles).post(user_roles::replace_user_roles))
        .route("/users/{user_id}/roles/add", put(user_roles::add_user_role))
        .route("/users/{user_id}/roles/{role_id}", axum::routing::delete(user_roles::remove_user_role))
        .route("/users/{user_id}/contributions", get(contributions::get_contributions))
        .route("/users/{user_id}/contributions/{media_type}", get(contributions::get_contributions_by_media_type))
}

/// OpenAPI paths and schemas of the accounts area.
#[derive(OpenApi)]
#[openapi(
    paths(
        auth::login,
        auth::me,
        auth::refresh,
        auth::change_password,
        auth::reset_password,
        otp::send_otp,
        otp::resend_otp,
        otp::verify_otp,
        otp::login_send_otp,
        otp::login_resend_otp,
        otp::login_verify_otp,
        otp::signup_send_otp,
        otp::signup_resend_otp,
        otp::signup_verify_otp,
        otp::forgot_password,
        otp::forgot_password_verify,
        otp::forgot_password_init,
        otp::forgot_password_confirm,
        roles::list_roles,
        roles::create_role,
        roles::get_role,
        roles::update_role,
        roles::delete_role,
        users::list_users,
        users::create_user,
        users::get_user_by_phone,
        users::get_user,
        users::put_user,
        users::patch_user,
        users::update_last_login,
        users::change_password,
        users::delete_user,
        user_roles::get_user_with_roles,
        user_roles::get_user_roles,
        user_roles::replace_user_roles,
        user_roles::add_user_role,
        user_roles::remove_user_role,
        contributions::get_contributions,
        contributions::get_contributions_by_media_type,
    ),
    components(schemas(
        accounts::UserRecord,
        accounts::RoleRecord,
        dto::MessageResponse,
        dto::UserWithRoles,
        dto::TokenWithUser,
        dto::OtpTokenResponse,
        dto::OtpResponse,
        dto::LoginRequest,
        dto::PasswordChangeRequest,
        dto::PasswordResetRequest,
        dto::OtpSendRequest,
        dto::OtpVerifyRequest,
        dto::SignupVerifyRequest,
        dto::ForgotPasswordVerifyRequest,
        dto::PasswordResetConfirmRequest,
        dto::UserPasswordChangeRequest,
        dto::UserCreateRequest,
        dto::UserUpdateRequest,
        dto::LastLoginRequest,
        dto::RoleCreateRequest,
        dto::RoleUpdateRequest,
        dto::ContributionRead,
        dto::ContributionFilterRead,
        dto::ContributionsByMediaType,
        dto::ContributionItem,
    )),
    tags(
        (name = "auth", description = "Password and one-time-code authentication"),
        (name = "users", description = "Accounts and their roles"),
        (name = "roles", description = "Role administration"),
    )
)]
pub struct AccountsDoc;
