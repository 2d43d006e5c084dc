//! Sign-up by code: sending, resending and verifying a sign-up code, which creates the account.

use axum::{Json, extract::State};
use secrecy::ExposeSecret;

use super::super::dto::{OtpResponse, OtpSendRequest, OtpTokenResponse, SignupVerifyRequest, normalize_email};
use super::super::shared::record_login;
use super::{INVALID_CODE, check_ip_limit, send_code, token_response};

use crate::{
    auth::{
        otp::{self, OtpPurpose},
        password,
    },
    db::{accounts, users},
    domain::Phone,
    error::{AppError, ErrorDetail, Result, ResultExt, ValidationErrorBody},
    http::{ValidJson, client_ip::ClientIp},
    state::AppState,
};

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
    record_login(&state, user.id, None).await?;
    tracing::info!(user_id = %user.id, "account created by one-time code");
    Ok(Json(token_response(&state, user.id).await?))
}
