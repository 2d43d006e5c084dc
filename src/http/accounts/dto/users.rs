//! Users: sign-up and creation, partial updates, the list's query, e-mail and name rules.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::PhoneInput;
use crate::{
    error::Result,
    http::{Validate, Validator, common::present, limits::*},
};

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

pub(super) fn check_profile(
    v: &mut Validator,
    name: &str,
    email: Option<&str>,
    gender: Option<&str>,
    place: Option<&str>,
) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_checked_and_domains_lower_cased() {
        assert_eq!(normalize_email("John.Doe@Example.COM").unwrap(), "John.Doe@example.com");
        assert!(normalize_email("nope").is_err());
        assert!(normalize_email("a@b").is_err());
        assert!(normalize_email("a b@c.org").is_err());
    }
}
