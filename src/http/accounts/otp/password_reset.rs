//! Self-service password reset by code (`forgot-password` + `/verify`, and the production service's `forgot-password/init` + `/confirm`).

use axum::{Json, extract::State};
use secrecy::ExposeSecret;

use super::super::dto::{
    ForgotPasswordVerifyRequest, MessageResponse, OtpResponse, OtpSendRequest, PasswordResetConfirmRequest,
};
use super::{INVALID_CODE, check_ip_limit, send_code};

use crate::{
    auth::{
        otp::{self, OtpPurpose},
        password,
    },
    db::accounts,
    domain::Phone,
    error::{AppError, ErrorDetail, Result, ValidationErrorBody},
    http::{ValidJson, client_ip::ClientIp},
    state::AppState,
};

/// Sends a password-reset code to the phone of an existing account.
#[utoipa::path(
    post, path = "/api/v1/auth/forgot-password", tag = "auth",
    request_body = OtpSendRequest,
    responses(
        (status = 200, description = "`OTP sent successfully`", body = OtpResponse),
        (status = 401, description = "`User account is inactive`", body = ErrorDetail),
        (status = 404, description = "`User with this phone number does not exist`", body = ErrorDetail),
        (status = 429, description = "Rate limited", body = ErrorDetail),
        (status = 502, description = "The SMS provider failed", body = ErrorDetail),
    )
)]
pub async fn forgot_password(
    State(state): State<AppState>,
    ip: ClientIp,
    ValidJson(body): ValidJson<OtpSendRequest>,
) -> Result<Json<OtpResponse>> {
    Ok(Json(send_reset_code(&state, ip, &body).await?))
}

/// Same as `/auth/forgot-password` (the production service's name for it).
#[utoipa::path(
    post, path = "/api/v1/auth/forgot-password/init", tag = "auth",
    request_body = OtpSendRequest,
    responses(
        (status = 200, description = "`OTP sent successfully`", body = OtpResponse),
        (status = 401, description = "`User account is inactive`", body = ErrorDetail),
        (status = 404, description = "`User with this phone number does not exist`", body = ErrorDetail),
        (status = 422, description = "Invalid phone number", body = ValidationErrorBody),
        (status = 429, description = "Rate limited", body = ErrorDetail),
        (status = 502, description = "The SMS provider failed", body = ErrorDetail),
    )
)]
pub async fn forgot_password_init(
    State(state): State<AppState>,
    ip: ClientIp,
    ValidJson(body): ValidJson<OtpSendRequest>,
) -> Result<Json<OtpResponse>> {
    Ok(Json(send_reset_code(&state, ip, &body).await?))
}

async fn send_reset_code(state: &AppState, ip: ClientIp, body: &OtpSendRequest) -> Result<OtpResponse> {
    check_ip_limit(state, ip).await?;
    let phone = body.phone_number.phone("phone_number")?;
    let user = accounts::user_by_phone(&state.db, phone)
        .await?
        .ok_or_else(|| AppError::NotFound("User with this phone number does not exist".into()))?;
    if !user.is_active {
        return Err(AppError::UnauthorizedPlain("User account is inactive".into()));
    }
    let reference_id = send_code(state, phone, OtpPurpose::Reset, "Failed to send OTP").await?;
    Ok(OtpResponse { status: "success", message: "OTP sent successfully", reference_id })
}

/// Sets a new password with a reset code; every older token of the account stops working.
#[utoipa::path(
    post, path = "/api/v1/auth/forgot-password/verify", tag = "auth",
    request_body = ForgotPasswordVerifyRequest,
    responses(
        (status = 200, description = "`Password reset successfully`", body = MessageResponse),
        (status = 400, description = "`Invalid or expired OTP`", body = ErrorDetail),
        (status = 404, description = "`User not found`", body = ErrorDetail),
        (status = 422, description = "Invalid body", body = ValidationErrorBody),
    )
)]
pub async fn forgot_password_verify(
    State(state): State<AppState>,
    ValidJson(body): ValidJson<ForgotPasswordVerifyRequest>,
) -> Result<Json<MessageResponse>> {
    reset_with_code(&state, body.phone_number.phone("phone_number")?, &body.otp_code, body.new_password).await?;
    Ok(Json(MessageResponse::new("Password reset successfully")))
}

/// The production service's reset by code: the new password is typed twice (422 when the two
/// differ); every older token of the account stops working.
#[utoipa::path(
    post, path = "/api/v1/auth/forgot-password/confirm", tag = "auth",
    request_body = PasswordResetConfirmRequest,
    responses(
        (status = 200, description = "`Password reset successfully`", body = OtpResponse),
        (status = 400, description = "`Invalid or expired OTP`", body = ErrorDetail),
        (status = 404, description = "`User not found`", body = ErrorDetail),
        (status = 422, description = "Invalid body, or the passwords differ", body = ValidationErrorBody),
    )
)]
pub async fn forgot_password_confirm(
    State(state): State<AppState>,
    ValidJson(body): ValidJson<PasswordResetConfirmRequest>,
) -> Result<Json<OtpResponse>> {
    reset_with_code(&state, body.phone_number.phone("phone_number")?, &body.otp_code, body.new_password).await?;
    Ok(Json(OtpResponse { status: "success", message: "Password reset successfully", reference_id: None }))
}

async fn reset_with_code(state: &AppState, phone: &Phone, code: &str, new_password: String) -> Result<()> {
    let secret = state.config.secret();
    let max = state.config.otp.otp_max_attempts;
    if !otp::verify(&state.db, phone, OtpPurpose::Reset, code.trim(), secret.expose_secret(), max).await? {
        return Err(AppError::BadRequest(INVALID_CODE.into()));
    }
    let user =
        accounts::user_by_phone(&state.db, phone).await?.ok_or_else(|| AppError::NotFound("User not found".into()))?;
    let hash = password::hash(new_password).await?;
    accounts::set_password(&state.db, user.id, &hash).await?;
    state.identities.forget(user.id);
    tracing::info!(user_id = %user.id, "password reset by one-time code");
    Ok(())
}
