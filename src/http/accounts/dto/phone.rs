//! Phone numbers as clients type them, parsed once.

use serde::{Deserialize, Deserializer};
use serde_json::json;
use utoipa::ToSchema;

use crate::{
    domain::{Phone, PhoneError},
    error::{AppError, Result},
    http::Validator,
};

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
