//! Request and response bodies of the accounts endpoints, with the original's field names and
//! validation rules (lengths as pydantic counted them).

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;
use uuid::Uuid;

pub use crate::http::common::MessageResponse;
use crate::{
    db::{
        accounts::{RoleRecord, UserRecord},
        contributions::ContributionRow,
    },
    domain::{MediaType, Phone, PhoneError, RoleName, time},
    error::{AppError, Result},
    http::{Validate, Validator, common::present, limits::*, records::Location},
};

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

/// A phone number as clients type it: E.164 (`+919000000001`), 10 national digits, or `91` and
/// 10 digits; spaces, `-`, `(` and `)` are allowed anywhere. Stored normalised to E.164 (the
/// pattern is exactly what `normalize_phone` accepts).
// Parsed once, as the body is read: any string is accepted here and its parse kept, so that the
// body's `Validate` reports a bad number among the body's other errors (pydantic's 422), and the
// handler takes the parsed [`Phone`] from [`PhoneInput::phone`].
#[derive(Debug, Clone, ToSchema)]
#[schema(as = PhoneNumber, value_type = String, pattern = r"^[\t-\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000()-]*(?:\+[\t-\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000()-]*[1-9](?:[\t-\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000()-]*[0-9]){1,14}|[1-9](?:[\t-\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000()-]*[0-9]){9}|9[\t-\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000()-]*1(?:[\t-\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000()-]*[0-9]){10})[\t-\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000()-]*$", example = "+919000000001")]
pub struct PhoneInput(Typed);

/// The text as sent and what it parses to.
#[derive(Debug, Clone)]
struct Typed {
    text: String,
    parsed: std::result::Result<Phone, PhoneError>,
}

impl<'de> Deserialize<'de> for PhoneInput {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        let parsed = Phone::parse(&text);
        Ok(Self(Typed { text, parsed }))
    }
}

impl PhoneInput {
    /// The text as sent.
    pub fn typed(&self) -> &str {
        &self.0.text
    }

    /// Adds the 422 of a number that does not parse (a pydantic `value_error`) for `field`.
    pub fn check(&self, v: &mut Validator, field: &str) {
        if let Err(err) = &self.0.parsed {
            self.report(v, field, *err);
        }
    }

    /// The phone number of body field `field`: always there once the body's `Validate` ran
    /// [`PhoneInput::check`] on it; otherwise the same 422 that check gives.
    pub fn phone(&self, field: &str) -> Result<&Phone> {
        self.0.parsed.as_ref().map_err(|err| {
            let mut v = Validator::new("body");
            self.report(&mut v, field, *err);
            AppError::Validation(v.into_errors())
        })
    }

    fn report(&self, v: &mut Validator, field: &str, err: PhoneError) {
        v.error(
            "value_error",
            field,
            format!("Value error, {err}"),
            Some(self.typed().into()),
            Some(json!({ "error": err.to_string() })),
        );
    }
}

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
        check_profile(v, &self.name, self.email.as_deref(), self.gender.as_deref(), self.place.as_deref());
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

/// Checks an e-mail address and normalises it as the original did (domain lower-cased).
pub fn normalize_email(value: &str) -> Result<String, &'static str> {
    let value = value.trim();
    let (local, domain) = value.rsplit_once('@').ok_or("An email address must have an @-sign.")?;
    if local.is_empty() {
        return Err("There must be something before the @-sign.");
    }
    if domain.is_empty() {
        return Err("There must be something after the @-sign.");
    }
    if value.chars().any(|c| c.is_whitespace() || c.is_control()) || local.contains('@') {
        return Err("The email address contains invalid characters.");
    }
    if !domain.contains('.') || domain.starts_with('.') || domain.ends_with('.') || domain.contains("..") {
        return Err("The part after the @-sign is not valid. It should have a period.");
    }
    Ok(format!("{local}@{}", domain.to_lowercase()))
}

fn check_email(v: &mut Validator, field: &str, value: &str) {
    if let Err(reason) = normalize_email(value) {
        v.error(
            "value_error",
            field,
            format!("value is not a valid email address: {reason}"),
            Some(value.into()),
            Some(json!({ "reason": reason })),
        );
    } else {
        v.str_len(field, value.trim(), 1, EMAIL_MAX);
    }
}

/// A display name: 1..100 characters, not blank (the original's message).
fn check_name(v: &mut Validator, name: &str) {
    v.str_len("name", name, 1, USER_NAME_MAX);
    if !name.is_empty() && name.trim().is_empty() {
        v.error("value_error", "name", "Value error, Name must not be blank", Some(name.into()), None);
    }
}

fn check_profile(v: &mut Validator, name: &str, email: Option<&str>, gender: Option<&str>, place: Option<&str>) {
    check_name(v, name);
    if let Some(email) = email {
        check_email(v, "email", email);
    }
    v.opt_str_len("gender", gender, 0, GENDER_MAX);
    v.opt_str_len("place", place, 0, PLACE_MAX);
}

/// Public sign-up (and admin creation) of an account (the original's `UserCreate`).
#[derive(Debug, Deserialize, ToSchema)]
pub struct UserCreateRequest {
    /// Phone number, at most 20 characters as typed; stored in E.164 (default country India).
    pub phone: PhoneInput,
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
    /// Gender, free text.
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
    /// Password.
    #[schema(min_length = 6, max_length = 100, format = Password)]
    pub password: String,
    /// Role ids; honoured only when the caller is an admin (everyone else gets role `user`).
    #[serde(default)]
    pub role_ids: Option<Vec<i32>>,
    /// Must be true.
    pub has_given_consent: bool,
}

impl Validate for UserCreateRequest {
    fn validate(&self, v: &mut Validator) {
        v.str_len("phone", self.phone.typed(), 1, PHONE_MAX);
        if !self.phone.typed().is_empty() {
            self.phone.check(v, "phone");
        }
        check_profile(v, &self.name, self.email.as_deref(), self.gender.as_deref(), self.place.as_deref());
        v.str_len("password", &self.password, USER_CREATE_PASSWORD_MIN, PASSWORD_MAX);
    }
}

/// A partial update of a user (`PUT` and `PATCH`): only the keys present are applied, and an
/// explicit `null` clears a field that may be empty.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct UserUpdateRequest {
    /// Display name (not null, not blank).
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = String, required = false, min_length = 1, max_length = 100, pattern = r"[^\t-\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]")]
    pub name: Option<Option<String>>,
    /// E-mail address, or null.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, max_length = 100, format = Email)]
    pub email: Option<Option<String>>,
    /// Gender, or null.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, max_length = 20)]
    pub gender: Option<Option<String>>,
    /// Date of birth, or null.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<NaiveDate>)]
    pub date_of_birth: Option<Option<NaiveDate>>,
    /// Place, or null.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, max_length = 100)]
    pub place: Option<Option<String>>,
    /// Whether the account may sign in (admins only; false revokes the user's tokens). Not null.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = bool, required = false)]
    pub is_active: Option<Option<bool>>,
    /// Consent to the collection terms (not null).
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = bool, required = false)]
    pub has_given_consent: Option<Option<bool>>,
    /// Last login time, as some clients report it; without an offset it is read as UTC, and a
    /// time in the future is stored as now.
    #[serde(default, deserialize_with = "crate::domain::time::deserialize_present")]
    #[schema(value_type = Option<DateTime<Utc>>)]
    pub last_login_at: Option<Option<DateTime<Utc>>>,
}

impl Validate for UserUpdateRequest {
    fn validate(&self, v: &mut Validator) {
        let null = |v: &mut Validator, field: &str, kind: &str, msg: &str| {
            v.error(kind, field, msg, Some(Value::Null), None);
        };
        match &self.name {
            Some(None) => null(v, "name", "string_type", "Input should be a valid string"),
            Some(Some(name)) => check_name(v, name),
            None => {}
        }
        if let Some(Some(email)) = &self.email {
            check_email(v, "email", email);
        }
        if let Some(Some(gender)) = &self.gender {
            v.str_len("gender", gender, 0, GENDER_MAX);
        }
        if let Some(Some(place)) = &self.place {
            v.str_len("place", place, 0, PLACE_MAX);
        }
        if let Some(None) = self.is_active {
            null(v, "is_active", "bool_type", "Input should be a valid boolean");
        }
        if let Some(None) = self.has_given_consent {
            null(v, "has_given_consent", "bool_type", "Input should be a valid boolean");
        }
    }
}

/// Body of `PATCH /users/{id}/last-login`, the official app's newer call right after a login.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct LastLoginRequest {
    /// When the user logged in, as the app reports it (`2026-12-01T21:20:00.123456`): ISO 8601,
    /// read as UTC when it has no offset. Absent or `null` means now; a time in the future is
    /// stored as now. `last_login_at` is accepted as another name for it.
    #[serde(default, alias = "last_login_at", deserialize_with = "crate::domain::time::deserialize_opt")]
    #[schema(value_type = Option<DateTime<Utc>>)]
    pub last_login: Option<DateTime<Utc>>,
}

impl Validate for LastLoginRequest {
    fn validate(&self, _v: &mut Validator) {}
}

/// Query of the users list.
#[derive(Debug, Deserialize, ToSchema, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UserListQuery {
    /// Rows to skip.
    #[serde(default)]
    #[param(minimum = 0, default = 0)]
    pub skip: Option<i64>,
    /// Rows to return.
    #[serde(default)]
    #[param(minimum = 1, maximum = 1000, default = 100)]
    pub limit: Option<i64>,
    /// Only the users with this phone number (any form: `9000000001`, `+919000000001`...).
    #[serde(default)]
    #[param(example = "+919000000001")]
    pub phone: Option<String>,
}

impl Validate for UserListQuery {
    fn validate(&self, v: &mut Validator) {
        if let Some(skip) = self.skip {
            v.range_i64("skip", skip, 0, i64::MAX);
        }
        if let Some(limit) = self.limit {
            v.range_i64("limit", limit, 1, PAGE_MAX);
        }
    }
}

/// Query of `PUT /users/{id}/roles/add`.
#[derive(Debug, Deserialize, ToSchema, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AddRoleQuery {
    /// The role to add.
    pub role_id: i32,
}

impl Validate for AddRoleQuery {
    fn validate(&self, _v: &mut Validator) {}
}

/// A new role.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RoleCreateRequest {
    /// `admin`, `user` or `reviewer`.
    pub name: RoleName,
    /// Description.
    #[serde(default)]
    #[schema(max_length = 255)]
    pub description: Option<String>,
}

impl Validate for RoleCreateRequest {
    fn validate(&self, v: &mut Validator) {
        v.opt_str_len("description", self.description.as_deref(), 0, ROLE_DESCRIPTION_MAX);
    }
}

/// A role's new description.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RoleUpdateRequest {
    /// Description, or null.
    #[serde(default)]
    #[schema(max_length = 255)]
    pub description: Option<String>,
}

impl Validate for RoleUpdateRequest {
    fn validate(&self, v: &mut Validator) {
        v.opt_str_len("description", self.description.as_deref(), 0, ROLE_DESCRIPTION_MAX);
    }
}

/// One record in a contribution summary (the production service's `ContributionResponse`).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ContributionItem {
    /// Record id.
    pub id: Uuid,
    /// File size in bytes, 0 when unknown.
    pub size: i64,
    /// Category id.
    pub category_id: Uuid,
    /// Whether the record was reviewed.
    pub reviewed: bool,
    /// Title.
    pub title: String,
    /// Description.
    pub description: Option<String>,
    /// Whole seconds of audio or video; null when unknown or not a timed medium.
    pub duration: Option<i64>,
    /// When the record was created.
    #[serde(serialize_with = "time::serialize")]
    pub timestamp: DateTime<Utc>,
    /// Where it was recorded.
    pub location: Option<Location>,
    /// Release rights as sent with the record.
    pub release_rights: Option<String>,
    /// Language as sent with the record; an empty string (never null) when none was sent.
    pub language: String,
    /// SHA-256 of the stored bytes (hex).
    pub file_hash: Option<String>,
    /// Signal-to-noise measure of audio; null (not measured by this service).
    pub snr_frequency: Option<f64>,
    /// Media type (used for grouping; not part of the production item).
    #[serde(skip)]
    pub media_type: MediaType,
}

impl From<ContributionRow> for ContributionItem {
    fn from(row: ContributionRow) -> Self {
        let location = match (row.latitude, row.longitude) {
            (Some(latitude), Some(longitude)) => Some(Location { latitude, longitude }),
            _ => None,
        };
        Self {
            id: row.id,
            size: row.size,
            category_id: row.category_id,
            reviewed: row.reviewed,
            title: row.title,
            description: row.description,
            duration: row.duration,
            timestamp: row.created_at,
            location,
            release_rights: row.release_rights,
            language: row.language.unwrap_or_default(),
            file_hash: row.content_sha256,
            snr_frequency: None,
            media_type: row.media_type,
        }
    }
}

/// Records per media type.
#[derive(Debug, Serialize, ToSchema)]
pub struct ContributionsByMediaType {
    /// Text records.
    pub text: i64,
    /// Audio records.
    pub audio: i64,
    /// Image records.
    pub image: i64,
    /// Video records.
    pub video: i64,
    /// Document records.
    pub document: i64,
}

/// A user's contributions (the production service's `ContributionRead`); empty lists are
/// `null`, as there.
#[derive(Debug, Serialize, ToSchema)]
pub struct ContributionRead {
    /// The user.
    pub user_id: Uuid,
    /// All the user's records.
    pub total_contributions: i64,
    /// Records per media type.
    pub contributions_by_media_type: ContributionsByMediaType,
    /// Audio records, or null when none.
    pub audio_contributions: Option<Vec<ContributionItem>>,
    /// Video records, or null when none.
    pub video_contributions: Option<Vec<ContributionItem>>,
    /// Text records, or null when none.
    pub text_contributions: Option<Vec<ContributionItem>>,
    /// Image records, or null when none.
    pub image_contributions: Option<Vec<ContributionItem>>,
    /// Document records, or null when none.
    pub document_contributions: Option<Vec<ContributionItem>>,
    /// Seconds of audio (unknown durations count as 0).
    pub audio_duration: i64,
    /// Seconds of video (unknown durations count as 0).
    pub video_duration: i64,
}

/// A user's contributions of one media type (the original's `ContributionFilterRead`).
#[derive(Debug, Serialize, ToSchema)]
pub struct ContributionFilterRead {
    /// The user.
    pub user_id: Uuid,
    /// Records of this media type.
    pub total_contributions: i64,
    /// The records, or null when none.
    pub contributions: Option<Vec<ContributionItem>>,
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn emails_are_checked_and_domains_lower_cased() {
        assert_eq!(normalize_email("John.Doe@Example.COM").unwrap(), "John.Doe@example.com");
        assert!(normalize_email("nope").is_err());
        assert!(normalize_email("a@b").is_err());
        assert!(normalize_email("a b@c.org").is_err());
    }
}
