//! One-time-code flows: login (`send-otp`, `resend-otp`, `verify-otp` and their `login/` twins),
//! sign-up by code, and self-service password reset (`forgot-password` + `/verify`, and the
//! production service's `forgot-password/init` + `/confirm`).

mod login;
mod password_reset;
mod signup;

pub use login::*;
pub use password_reset::*;
pub use signup::*;

use std::time::Duration;

use chrono::Utc;
use secrecy::ExposeSecret;

use super::{dto::OtpTokenResponse, shared::user_with_roles};
use crate::{
    auth::{
        otp::{self, OtpPurpose},
        sms::mask_phone,
    },
    domain::Phone,
    error::{AppError, Result},
    http::client_ip::ClientIp,
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
