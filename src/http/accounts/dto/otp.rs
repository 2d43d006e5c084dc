//! Requests for one-time codes and the codes submitted back.

use chrono::NaiveDate;
use serde::Deserialize;
use utoipa::ToSchema;

use super::PhoneInput;
use crate::http::{Validate, Validator, limits::*};

/// A request for a code.
#[derive(Debug, Deserialize, ToSchema)]
pub struct OtpSendRequest {
    /// Phone number; normalised to E.164 (default country India).
    pub phone_number: PhoneInput,
}

impl Validate for OtpSendRequest {
    fn validate(&self, v: &mut Validator) {
        self.phone_number.check(v, "phone_number");
    }
}

fn default_true() -> bool {
    true
}

/// A code submitted to log in.
#[derive(Debug, Deserialize, ToSchema)]
pub struct OtpVerifyRequest {
    /// Phone number the code went to.
    pub phone_number: PhoneInput,
    /// The code.
    #[schema(min_length = 4, max_length = 8, example = "123456")]
    pub otp_code: String,
    /// Consent to the collection terms; recorded when true and not given before.
    #[serde(default = "default_true")]
    #[schema(default = true)]
    pub has_given_consent: bool,
}

impl Validate for OtpVerifyRequest {
    fn validate(&self, v: &mut Validator) {
        self.phone_number.check(v, "phone_number");
        v.str_len("otp_code", &self.otp_code, OTP_CODE_MIN, OTP_CODE_MAX);
    }
}

/// A code submitted to create an account.
#[derive(Debug, Deserialize, ToSchema)]
pub struct SignupVerifyRequest {
    /// Phone number the code went to; becomes the account's phone.
    pub phone_number: PhoneInput,
    /// The code.
    #[schema(min_length = 4, max_length = 8, example = "123456")]
    pub otp_code: String,
    /// Display name (not blank).
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"[^\t-\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]"
    )]
    pub name: String,
    /// E-mail address.
    #[serde(default)]
    #[schema(max_length = 100, format = Email)]
    pub email: Option<String>,
    /// Password (optional: an OTP account can always log in by code), 8 to 100 characters; an
    /// empty string means none.
    #[serde(default)]
    #[schema(max_length = 100, pattern = r"^$|^[\s\S]{8,}", format = Password)]
    pub password: Option<String>,
    /// Must be true.
    pub has_given_consent: bool,
    /// Gender.
    #[serde(default)]
    #[schema(max_length = 20)]
    pub gender: Option<String>,
    /// Date of birth, `YYYY-MM-DD`.
    #[serde(default)]
    pub date_of_birth: Option<NaiveDate>,
    /// Place.
    #[serde(default)]
    #[schema(max_length = 100)]
    pub place: Option<String>,
}

impl Validate for SignupVerifyRequest {
    fn validate(&self, v: &mut Validator) {
        self.phone_number.check(v, "phone_number");
        v.str_len("otp_code", &self.otp_code, OTP_CODE_MIN, OTP_CODE_MAX);
        super::users::check_profile(
            v,
            &self.name,
            self.email.as_deref(),
            self.gender.as_deref(),
            self.place.as_deref(),
        );
        // An empty password from a form means "none".
        if let Some(p) = self.password.as_deref().filter(|p| !p.is_empty()) {
            v.str_len("password", p, PASSWORD_MIN, PASSWORD_MAX);
        }
    }
}

/// A code submitted to set a new password.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ForgotPasswordVerifyRequest {
    /// Phone number the code went to.
    pub phone_number: PhoneInput,
    /// The code.
    #[schema(min_length = 4, max_length = 8, example = "123456")]
    pub otp_code: String,
    /// New password.
    #[schema(min_length = 8, max_length = 100, format = Password)]
    pub new_password: String,
}

impl Validate for ForgotPasswordVerifyRequest {
    fn validate(&self, v: &mut Validator) {
        self.phone_number.check(v, "phone_number");
        v.str_len("otp_code", &self.otp_code, OTP_CODE_MIN, OTP_CODE_MAX);
        v.str_len("new_password", &self.new_password, PASSWORD_MIN, PASSWORD_MAX);
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::error::AppError;

    #[test]
    fn a_phone_is_parsed_once_and_a_bad_one_is_reported_with_the_other_errors() {
        let body: OtpVerifyRequest =
            serde_json::from_value(json!({"phone_number": "+91 90000-00001", "otp_code": "123456"})).unwrap();
        assert_eq!(body.phone_number.phone("phone_number").unwrap().as_str(), "+919000000001");
        assert!(Validator::check("body", &body).is_ok());

        let body: OtpVerifyRequest = serde_json::from_value(json!({"phone_number": "12345", "otp_code": "1"})).unwrap();
        let Err(AppError::Validation(errors)) = Validator::check("body", &body) else { panic!("422 expected") };
        let kinds: Vec<(&str, &Value)> = errors.iter().map(|e| (e.kind.as_str(), &e.loc[1])).collect();
        assert_eq!(kinds, [("value_error", &json!("phone_number")), ("string_too_short", &json!("otp_code"))]);
        assert_eq!(errors[0].msg, "Value error, Phone number must include country code");
        // Asked for anyway, the number answers the same 422 rather than a made-up phone.
        let Err(AppError::Validation(alone)) = body.phone_number.phone("phone_number") else { panic!() };
        assert_eq!(alone, errors[..1]);
    }
}
