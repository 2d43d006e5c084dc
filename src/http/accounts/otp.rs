//! One-time-code flows: login (`send-otp`, `resend-otp`, `verify-otp` and their `login/` twins),
//! sign-up by code, and self-service password reset (`forgot-password` + `/verify`, and the
//! production service's `forgot-password/init` + `/confirm`).

use std::time::Duration;

use axum::{Json, extract::State};
use chrono::Utc;
use secrecy::ExposeSecret;

use super::{
    dto::{
        ForgotPasswordVerifyRequest, MessageResponse, OtpResponse, OtpSendRequest, OtpTokenResponse, OtpVerifyRequest,
        PasswordResetConfirmRequest, SignupVerifyRequest, normalize_email,
    },
    shared::user_with_roles,
};
use crate::{
    auth::{
        otp::{self, OtpPurpose},
        password,
        sms::mask_phone,
    },
    db::{accounts, users},
    domain::Phone,
    error::{AppError, ErrorDetail, Result, ResultExt, ValidationErrorBody},
    http::{ValidJson, client_ip::ClientIp},
    state::AppState,
};

const RATE_LIMITED: &str = "Rate limit exceeded. Please try again later.";
const INVALID_CODE: &str = "Invalid or expired OTP";

/// The answer when the rate limiter (Redis) cannot be reached: fail closed, log once.
pub(super) fn limiter_down(err: anyhow::Error) -> AppError {
    tracing::error!(error = %format!("{err:#}"), "rate limiter unavailable");
    AppError::ServiceUnavailable("Service temporarily unavailable. Please try again later.".into())
}

/// Counts a send against the caller's IP; 429 when over `OTP_IP_LIMIT_PER_HOUR`.
async fn check_ip_limit(state: &AppState, ip: ClientIp) -> Result<()> {
    let Some(ip) = ip.0 else { return Ok(()) };
    let allowed = state
        .limiter
        .hit(&format!("otp:ip:{ip}"), state.config.otp.otp_ip_limit_per_hour, Duration::from_secs(3600))
        .await
        .map_err(limiter_down)?;
    if allowed { Ok(()) } else { Err(AppError::TooManyRequests(RATE_LIMITED.into())) }
}

/// Sends a fresh code to `phone` unless one went out within `OTP_RATE_LIMIT_MINUTES`;
/// stores it only once the SMS went out. `failure` prefixes the 502 message, as the original did.
async fn send_code(state: &AppState, phone: &Phone, purpose: OtpPurpose, failure: &str) -> Result<Option<String>> {
    // OTP_RATE_LIMIT_MINUTES=0 turns the per-phone limit off (tests, load tests); the per-IP limit stays.
    let window = state.config.otp.otp_rate_limit_minutes;
    let key = format!("otp:phone:{phone}");
    if window > 0 {
        let first = state.limiter.hit(&key, 1, Duration::from_secs(window as u64 * 60)).await.map_err(limiter_down)?;
        // The database check also covers replicas without Redis and codes sent before a restart.
        if !first || otp::sent_recently(&state.db, phone, window).await? {
            return Err(AppError::TooManyRequests(RATE_LIMITED.into()));
        }
    }
    let code = otp::generate_code();
    let reference = match state.sms.send_code(phone.as_str(), &code).await {
        Ok(reference) => reference,
        Err(err) => {
            // A failed send does not count against the phone, as in the original.
            if window > 0 {
                let _ = state.limiter.undo(&key).await;
            }
            tracing::warn!(phone = %mask_phone(phone.as_str()), error = %err, "sending a one-time code failed");
            return Err(AppError::BadGateway(format!("{failure}: Failed to send OTP. Please try again later.")));
        }
    };
    let hash = otp::hash_code(phone.as_str(), state.config.secret().expose_secret(), &code);
    let expires_at = Utc::now() + chrono::Duration::minutes(state.config.otp.otp_expiry_minutes);
    otp::store_sent(&state.db, phone, purpose, &hash, expires_at, reference.as_deref()).await?;
    tracing::info!(phone = %mask_phone(phone.as_str()), purpose = purpose.as_str(), "one-time code sent");
    Ok(reference)
}

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
    accounts::record_login(&state.db, user.id, None).await?;
    token_response(state, user.id).await
}

async fn token_response(state: &AppState, user_id: uuid::Uuid) -> Result<OtpTokenResponse> {
    let access_token = state.tokens.issue(user_id)?;
    let user = user_with_roles(state, user_id).await?;
    Ok(OtpTokenResponse {
        access_token,
        token_type: "bearer",
        user_id,
        phone_number: user.user.phone.clone(),
        roles: user.roles.clone(),
        user,
    })
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

fn phone_exists(phone: &Phone) -> AppError {
    AppError::Conflict(format!("Phone '{phone}' already exists"))
}

/// Sends a sign-up code to a phone that has no account yet.
#[utoipa::path(
    post, path = "/api/v1/auth/signup/send-otp", tag = "auth",
    request_body = OtpSendRequest,
    responses(
        (status = 200, description = "`OTP sent successfully`", body = OtpResponse),
        (status = 409, description = "The phone already has an account", body = ErrorDetail),
        (status = 422, description = "Invalid phone number", body = ValidationErrorBody),
        (status = 429, description = "Rate limited", body = ErrorDetail),
        (status = 502, description = "The SMS provider failed", body = ErrorDetail),
    )
)]
pub async fn signup_send_otp(
    State(state): State<AppState>,
    ip: ClientIp,
    ValidJson(body): ValidJson<OtpSendRequest>,
) -> Result<Json<OtpResponse>> {
    Ok(Json(send_signup_code(&state, ip, &body, false).await?))
}

/// Sends a new sign-up code (the production service's call); older codes stop working once it
/// went out.
#[utoipa::path(
    post, path = "/api/v1/auth/signup/resend-otp", tag = "auth",
    request_body = OtpSendRequest,
    responses(
        (status = 200, description = "`OTP resent successfully`", body = OtpResponse),
        (status = 409, description = "The phone already has an account", body = ErrorDetail),
        (status = 422, description = "Invalid phone number", body = ValidationErrorBody),
        (status = 429, description = "Rate limited", body = ErrorDetail),
        (status = 502, description = "The SMS provider failed", body = ErrorDetail),
    )
)]
pub async fn signup_resend_otp(
    State(state): State<AppState>,
    ip: ClientIp,
    ValidJson(body): ValidJson<OtpSendRequest>,
) -> Result<Json<OtpResponse>> {
    Ok(Json(send_signup_code(&state, ip, &body, true).await?))
}

async fn send_signup_code(state: &AppState, ip: ClientIp, body: &OtpSendRequest, resend: bool) -> Result<OtpResponse> {
    check_ip_limit(state, ip).await?;
    let phone = body.phone_number.phone("phone_number")?;
    if accounts::user_by_phone(&state.db, phone).await?.is_some() {
        return Err(phone_exists(phone));
    }
    let (message, failure) = if resend {
        ("OTP resent successfully", "Failed to resend OTP")
    } else {
        ("OTP sent successfully", "Failed to send OTP")
    };
    let reference_id = send_code(state, phone, OtpPurpose::Signup, failure).await?;
    Ok(OtpResponse { status: "success", message, reference_id })
}

/// Creates an account (role `user`, consent recorded) with a sign-up code, and logs it in.
/// The password is optional: such an account can always log in by code. The code is checked
/// before anything else is looked up, so phones and e-mails in use are only named to the holder
/// of a valid code.
#[utoipa::path(
    post, path = "/api/v1/auth/signup/verify-otp", tag = "auth",
    request_body = SignupVerifyRequest,
    responses(
        (status = 200, description = "Account created and logged in", body = OtpTokenResponse),
        (status = 400, description = "`Invalid or expired OTP` or consent missing", body = ErrorDetail),
        (status = 409, description = "Phone or e-mail already used", body = ErrorDetail),
        (status = 422, description = "Invalid body", body = ValidationErrorBody),
    )
)]
pub async fn signup_verify_otp(
    State(state): State<AppState>,
    ValidJson(body): ValidJson<SignupVerifyRequest>,
) -> Result<Json<OtpTokenResponse>> {
    if !body.has_given_consent {
        return Err(AppError::BadRequest("User consent is required to create an account".into()));
    }
    let phone = body.phone_number.phone("phone_number")?;
    let email = body.email.as_deref().filter(|e| !e.trim().is_empty()).and_then(|e| normalize_email(e).ok());
    let role = accounts::role_by_name(&state.db, "user")
        .await?
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("the role `user` is missing; run `corpus db init`")))?;
    // The code comes first: without one, nobody learns whether a phone or an e-mail has an
    // account here. It is checked and counted in the transaction that creates the account, and
    // spent only with it, so a right code sent with a taken e-mail can be sent again (within the
    // attempts it allows) with another one.
    let secret = state.config.secret();
    let max = state.config.otp.otp_max_attempts;
    let mut tx = state.db.begin().await?;
    let Some(code_id) =
        otp::check(&mut tx, phone, OtpPurpose::Signup, body.otp_code.trim(), secret.expose_secret(), max).await?
    else {
        tx.commit().await?;
        return Err(AppError::BadRequest(INVALID_CODE.into()));
    };
    let taken = if accounts::user_by_phone(&mut *tx, phone).await?.is_some() {
        Some(phone_exists(phone))
    } else {
        match &email {
            Some(email) if accounts::email_taken(&mut *tx, email, None).await? => {
                Some(AppError::Conflict(format!("Email '{email}' already exists")))
            }
            _ => None,
        }
    };
    if let Some(conflict) = taken {
        tx.commit().await?;
        return Err(conflict);
    }
    let hash = match body.password.filter(|p| !p.is_empty()) {
        Some(p) => Some(password::hash(p).await?),
        None => None,
    };
    let user = accounts::insert_user(
        &mut *tx,
        &accounts::NewUser {
            phone,
            name: body.name.trim(),
            email: email.as_deref(),
            gender: body.gender.as_deref(),
            date_of_birth: body.date_of_birth,
            place: body.place.as_deref(),
            hashed_password: hash.as_deref(),
        },
    )
    .await
    .on_constraint("ix_user_phone", || phone_exists(phone))
    .map_err(|e| {
        e.on_constraint("ix_user_email", || {
            AppError::Conflict(format!("Email '{}' already exists", email.clone().unwrap_or_default()))
        })
    })?;
    otp::spend(&mut *tx, code_id).await?;
    users::add_roles(&mut *tx, user.id, &[role.id]).await?;
    tx.commit().await?;
    accounts::record_login(&state.db, user.id, None).await?;
    tracing::info!(user_id = %user.id, "account created by one-time code");
    Ok(Json(token_response(&state, user.id).await?))
}

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
    tracing::info!(user_id = %user.id, "password reset by one-time code");
    Ok(())
}
