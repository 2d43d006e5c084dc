//! Bodies the accounts endpoints answer with: users with roles, tokens, OTP acknowledgements.

use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::db::accounts::{RoleRecord, UserRecord};

/// A user with their roles (the original's `UserWithRoles`).
#[derive(Debug, Serialize, ToSchema)]
pub struct UserWithRoles {
    /// The user.
    #[serde(flatten)]
    pub user: UserRecord,
    /// Roles held, by id.
    pub roles: Vec<RoleRecord>,
}

/// Answer of a password login and of `/auth/refresh`.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenWithUser {
    /// Access token (JWT, HS256).
    pub access_token: String,
    /// Always `bearer`.
    pub token_type: &'static str,
    /// The caller with roles (absent on `/auth/refresh`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<UserWithRoles>,
}

/// Answer of the OTP verification calls (the original's `TokenResponse` plus `user`).
#[derive(Debug, Serialize, ToSchema)]
pub struct OtpTokenResponse {
    /// Access token (JWT, HS256).
    pub access_token: String,
    /// Always `bearer`.
    pub token_type: &'static str,
    /// The user's id.
    pub user_id: Uuid,
    /// The user's phone as stored.
    pub phone_number: String,
    /// The user's roles.
    pub roles: Vec<RoleRecord>,
    /// The user with roles.
    pub user: UserWithRoles,
}

/// Answer of the OTP send calls (the original's `OTPResponse`) and of the production service's
/// `/auth/forgot-password/init` and `/confirm` (its `PasswordResetResponse`, the same shape).
#[derive(Debug, Serialize, ToSchema)]
pub struct OtpResponse {
    /// Always `success`.
    pub status: &'static str,
    /// `OTP sent successfully`, `OTP resent successfully` or `Password reset successfully`.
    pub message: &'static str,
    /// The SMS provider's reference for the message.
    pub reference_id: Option<String>,
}
