//! Login by code: `send-otp`, `resend-otp`, `verify-otp` and their `login/` twins.

use axum::{Json, extract::State};
use secrecy::ExposeSecret;

use super::super::dto::{OtpResponse, OtpSendRequest, OtpTokenResponse, OtpVerifyRequest};
use super::super::shared::record_login;
use super::{INVALID_CODE, check_ip_limit, send_code, token_response};

use crate::{
    auth::otp::{self, OtpPurpose},
    db::accounts,
    domain::Phone,
    error::{AppError, ErrorDetail, Result, ValidationErrorBody},
    http::{ValidJson, client_ip::ClientIp},
    state::AppState,
};

/// Sends a login code to an existing, active account.
async fn send_login_code(state: &AppState, ip: ClientIp, phone: &Phone, resend: bool) -> Result<OtpResponse> {
    check_ip_limit(state, ip).await?;
    let user = accounts::user_by_phone(&state.db, phone)
        .await?
        .ok_or_else(|| AppError::NotFound("User with this phone number does not exist".into()))?;
    if !user.is_active {
        return Err(AppError::UnauthorizedPlain("User account is inactive".into()));
    }
    let (message, failure) = if resend {
        ("OTP resent successfully", "Failed to resend OTP")
    } else {
        ("OTP sent successfully", "Failed to send OTP")
    };
    let reference_id = send_code(state, phone, OtpPurpose::Login, failure).await?;
    Ok(OtpResponse { status: "success", message, reference_id })
}

/// Verifies a login code and answers a token with the user.
async fn verify_login_code(state: &AppState, body: OtpVerifyRequest) -> Result<OtpTokenResponse> {
    let phone = body.phone_number.phone("phone_number")?;
    let secret = state.config.secret();
    let max = state.config.otp.otp_max_attempts;
    if !otp::verify(&state.db, phone, OtpPurpose::Login, body.otp_code.trim(), secret.expose_secret(), max).await? {
        return Err(AppError::BadRequest(INVALID_CODE.into()));
    }
    let user =
        accounts::user_by_phone(&state.db, phone).await?.ok_or_else(|| AppError::NotFound("User not found".into()))?;
    if !user.is_active {
        return Err(AppError::UnauthorizedPlain("User account is inactive".into()));
    }
    if body.has_given_consent {
        accounts::record_consent(&state.db, user.id).await?;
    }
    record_login(state, user.id, None).await?;
    token_response(state, user.id).await
}

/// Sends a login code by SMS to the phone of an existing account.
#[utoipa::path(
    post, path = "/api/v1/auth/send-otp", tag = "auth",
    request_body = OtpSendRequest,
    responses(
        (status = 200, description = "`OTP sent successfully`", body = OtpResponse),
        (status = 401, description = "`User account is inactive`", body = ErrorDetail),
        (status = 404, description = "`User with this phone number does not exist`", body = ErrorDetail),
        (status = 422, description = "Invalid phone number", body = ValidationErrorBody),
        (status = 429, description = "A code was sent less than a minute ago, or too many from this address", body = ErrorDetail),
        (status = 502, description = "The SMS provider failed", body = ErrorDetail),
    )
)]
pub async fn send_otp(
    State(state): State<AppState>,
    ip: ClientIp,
    ValidJson(body): ValidJson<OtpSendRequest>,
) -> Result<Json<OtpResponse>> {
    Ok(Json(send_login_code(&state, ip, body.phone_number.phone("phone_number")?, false).await?))
}

/// Sends a new login code; older codes stop working once it went out.
#[utoipa::path(
    post, path = "/api/v1/auth/resend-otp", tag = "auth",
    request_body = OtpSendRequest,
    responses(
        (status = 200, description = "`OTP resent successfully`", body = OtpResponse),
        (status = 401, description = "`User account is inactive`", body = ErrorDetail),
        (status = 404, description = "`User with this phone number does not exist`", body = ErrorDetail),
        (status = 422, description = "Invalid phone number", body = ValidationErrorBody),
        (status = 429, description = "Rate limited", body = ErrorDetail),
        (status = 502, description = "The SMS provider failed", body = ErrorDetail),
    )
)]
pub async fn resend_otp(
    State(state): State<AppState>,
    ip: ClientIp,
    ValidJson(body): ValidJson<OtpSendRequest>,
) -> Result<Json<OtpResponse>> {
    Ok(Json(send_login_code(&state, ip, body.phone_number.phone("phone_number")?, true).await?))
}

/// Logs in with a code; records consent when given. A code allows 3 submissions.
#[utoipa::path(
    post, path = "/api/v1/auth/verify-otp", tag = "auth",
    request_body = OtpVerifyRequest,
    responses(
        (status = 200, description = "Logged in", body = OtpTokenResponse),
        (status = 400, description = "`Invalid or expired OTP`", body = ErrorDetail),
        (status = 401, description = "`User account is inactive`", body = ErrorDetail),
        (status = 404, description = "`User not found`", body = ErrorDetail),
        (status = 422, description = "Invalid body", body = ValidationErrorBody),
    )
)]
pub async fn verify_otp(
    State(state): State<AppState>,
    ValidJson(body): ValidJson<OtpVerifyRequest>,
) -> Result<Json<OtpTokenResponse>> {
    Ok(Json(verify_login_code(&state, body).await?))
}

/// Same as `/auth/send-otp` (the production service's name for it).
#[utoipa::path(
    post, path = "/api/v1/auth/login/send-otp", tag = "auth",
    request_body = OtpSendRequest,
    responses(
        (status = 200, description = "`OTP sent successfully`", body = OtpResponse),
        (status = 404, description = "No such account", body = ErrorDetail),
        (status = 429, description = "Rate limited", body = ErrorDetail),
    )
)]
pub async fn login_send_otp(
    State(state): State<AppState>,
    ip: ClientIp,
    ValidJson(body): ValidJson<OtpSendRequest>,
) -> Result<Json<OtpResponse>> {
    Ok(Json(send_login_code(&state, ip, body.phone_number.phone("phone_number")?, false).await?))
}

/// Same as `/auth/resend-otp` (the production service's name for it).
#[utoipa::path(
    post, path = "/api/v1/auth/login/resend-otp", tag = "auth",
    request_body = OtpSendRequest,
    responses(
        (status = 200, description = "`OTP resent successfully`", body = OtpResponse),
        (status = 401, description = "`User account is inactive`", body = ErrorDetail),
        (status = 404, description = "`User with this phone number does not exist`", body = ErrorDetail),
        (status = 422, description = "Invalid phone number", body = ValidationErrorBody),
        (status = 429, description = "Rate limited", body = ErrorDetail),
        (status = 502, description = "The SMS provider failed", body = ErrorDetail),
    )
)]
pub async fn login_resend_otp(
    State(state): State<AppState>,
    ip: ClientIp,
    ValidJson(body): ValidJson<OtpSendRequest>,
) -> Result<Json<OtpResponse>> {
    Ok(Json(send_login_code(&state, ip, body.phone_number.phone("phone_number")?, true).await?))
}

/// Same as `/auth/verify-otp` (the production service's name for it).
#[utoipa::path(
    post, path = "/api/v1/auth/login/verify-otp", tag = "auth",
    request_body = OtpVerifyRequest,
    responses(
        (status = 200, description = "Logged in", body = OtpTokenResponse),
        (status = 400, description = "`Invalid or expired OTP`", body = ErrorDetail),
    )
)]
pub async fn login_verify_otp(
    State(state): State<AppState>,
    ValidJson(body): ValidJson<OtpVerifyRequest>,
) -> Result<Json<OtpTokenResponse>> {
    Ok(Json(verify_login_code(&state, body).await?))
}
