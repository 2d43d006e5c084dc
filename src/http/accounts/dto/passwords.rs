//! Password logins, changes and resets (by an admin, by code, by the user).

use serde::Deserialize;
use utoipa::ToSchema;

use super::PhoneInput;
use crate::http::{Validate, Validator, limits::*};

/// Phone + password login.
#[derive(Debug, Deserialize, ToSchema)]
pub struct LoginRequest {
    /// Phone number, in any form the service recognises (`9000000001`, `+91 90000 00001`...).
    #[schema(min_length = 1, max_length = 20, example = "+919000000001")]
    pub phone: String,
    /// Password.
    #[schema(min_length = 1, max_length = 1024, format = Password)]
    pub password: String,
}

impl Validate for LoginRequest {
    fn validate(&self, v: &mut Validator) {
        v.str_len("phone", &self.phone, 1, PHONE_MAX);
        v.str_len("password", &self.password, 1, LOGIN_PASSWORD_MAX);
    }
}

/// Change of one's own password.
#[derive(Debug, Deserialize, ToSchema)]
pub struct PasswordChangeRequest {
    /// Current password.
    #[schema(min_length = 1, max_length = 1024, format = Password)]
    pub current_password: String,
    /// New password.
    #[schema(min_length = 8, max_length = 100, format = Password)]
    pub new_password: String,
}

impl Validate for PasswordChangeRequest {
    fn validate(&self, v: &mut Validator) {
        v.str_len("current_password", &self.current_password, 1, LOGIN_PASSWORD_MAX);
        v.str_len("new_password", &self.new_password, PASSWORD_MIN, PASSWORD_MAX);
    }
}

/// An admin setting a user's password.
#[derive(Debug, Deserialize, ToSchema)]
pub struct PasswordResetRequest {
    /// The user's phone.
    #[schema(min_length = 1, max_length = 20, example = "+919000000001")]
    pub phone: String,
    /// New password.
    #[schema(min_length = 8, max_length = 100, format = Password)]
    pub new_password: String,
}

impl Validate for PasswordResetRequest {
    fn validate(&self, v: &mut Validator) {
        v.str_len("phone", &self.phone, 1, PHONE_MAX);
        v.str_len("new_password", &self.new_password, PASSWORD_MIN, PASSWORD_MAX);
    }
}

/// Reports `confirm_password` when it differs from `new_password`.
fn check_confirmation(v: &mut Validator, new_password: &str, confirm_password: &str) {
    if new_password != confirm_password {
        v.error(
            "value_error",
            "confirm_password",
            "Value error, New password and confirm password do not match",
            None,
            None,
        );
    }
}

/// The production service's reset by code: a new password typed twice.
#[derive(Debug, Deserialize, ToSchema)]
pub struct PasswordResetConfirmRequest {
    /// Phone number the code went to.
    pub phone_number: PhoneInput,
    /// The code.
    #[schema(min_length = 4, max_length = 8, example = "123456")]
    pub otp_code: String,
    /// New password.
    #[schema(min_length = 8, max_length = 100, format = Password)]
    pub new_password: String,
    /// The new password again.
    #[schema(min_length = 8, max_length = 100, format = Password)]
    pub confirm_password: String,
}

impl Validate for PasswordResetConfirmRequest {
    fn validate(&self, v: &mut Validator) {
        self.phone_number.check(v, "phone_number");
        v.str_len("otp_code", &self.otp_code, OTP_CODE_MIN, OTP_CODE_MAX);
        v.str_len("new_password", &self.new_password, PASSWORD_MIN, PASSWORD_MAX);
        v.str_len("confirm_password", &self.confirm_password, PASSWORD_MIN, PASSWORD_MAX);
        check_confirmation(v, &self.new_password, &self.confirm_password);
    }
}

/// Body of `PUT /users/{id}/change-password`: the current password and the new one twice.
#[derive(Debug, Deserialize, ToSchema)]
pub struct UserPasswordChangeRequest {
    /// Current password.
    #[schema(min_length = 1, max_length = 1024, format = Password)]
    pub current_password: String,
    /// New password.
    #[schema(min_length = 8, max_length = 100, format = Password)]
    pub new_password: String,
    /// The new password again.
    #[schema(min_length = 8, max_length = 100, format = Password)]
    pub confirm_password: String,
}

impl Validate for UserPasswordChangeRequest {
    fn validate(&self, v: &mut Validator) {
        v.str_len("current_password", &self.current_password, 1, LOGIN_PASSWORD_MAX);
        v.str_len("new_password", &self.new_password, PASSWORD_MIN, PASSWORD_MAX);
        v.str_len("confirm_password", &self.confirm_password, PASSWORD_MIN, PASSWORD_MAX);
        check_confirmation(v, &self.new_password, &self.confirm_password);
    }
}
