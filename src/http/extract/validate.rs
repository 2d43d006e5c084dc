//! The field rules a request type checks after it is deserialized, collected into one 422.

use serde_json::{Value, json};

use super::echo::short_input;
use crate::error::{AppError, FieldError};

/// Field rules a request type checks after deserialization.
pub trait Validate {
    /// Adds an error to `v` for every rule the value breaks.
    fn validate(&self, v: &mut Validator);

    /// Whether the body is a JSON array (a bare list of ids) rather than an object.
    fn expects_array() -> bool {
        false
    }
}

/// A bare JSON array (e.g. a list of role ids) has no field rules of its own.
impl<T> Validate for Vec<T> {
    fn validate(&self, _v: &mut Validator) {}

    fn expects_array() -> bool {
        true
    }
}

/// Collects field errors under one location prefix (`body`, `query`, `path`, `form`).
#[derive(Debug)]
pub struct Validator {
    prefix: &'static str,
    errors: Vec<FieldError>,
}

impl Validator {
    /// A validator for fields under `prefix`.
    pub fn new(prefix: &'static str) -> Self {
        Self { prefix, errors: Vec::new() }
    }

    /// Records an error on `field` (a dotted path such as `location.latitude`).
    pub fn error(&mut self, kind: &str, field: &str, msg: impl Into<String>, input: Option<Value>, ctx: Option<Value>) {
        let mut loc = vec![Value::from(self.prefix)];
        loc.extend(field.split('.').filter(|s| !s.is_empty()).map(Value::from));
        self.errors.push(FieldError {
            kind: kind.to_owned(),
            loc,
            msg: msg.into(),
            input: input.map(short_input),
            ctx,
        });
    }

    /// Requires `min..=max` characters (Unicode scalar values, as Python counts them).
    pub fn str_len(&mut self, field: &str, value: &str, min: usize, max: usize) {
        let len = value.chars().count();
        if len < min {
            let unit = if min == 1 { "character" } else { "characters" };
            self.error(
                "string_too_short",
                field,
                format!("String should have at least {min} {unit}"),
                Some(value.into()),
                Some(json!({ "min_length": min })),
            );
        } else if len > max {
            let unit = if max == 1 { "character" } else { "characters" };
            self.error(
                "string_too_long",
                field,
                format!("String should have at most {max} {unit}"),
                Some(value.into()),
                Some(json!({ "max_length": max })),
            );
        }
    }

    /// Requires 1..=`max` characters, not all whitespace (`string_blank` otherwise).
    pub fn non_blank(&mut self, field: &str, value: &str, max: usize) {
        self.str_len(field, value, 1, max);
        if !value.is_empty() && value.trim().is_empty() {
            self.error("string_blank", field, "String should not be blank", Some(value.into()), None);
        }
    }

    /// Like [`Validator::str_len`] for an optional value.
    pub fn opt_str_len(&mut self, field: &str, value: Option<&str>, min: usize, max: usize) {
        if let Some(value) = value {
            self.str_len(field, value, min, max);
        }
    }

    /// Requires `min <= value <= max`.
    pub fn range_f64(&mut self, field: &str, value: f64, min: f64, max: f64) {
        if value.is_finite() {
            self.range(field, value, min, max);
        } else {
            self.error("finite_number", field, "Input should be a finite number", Some(value.to_string().into()), None);
        }
    }

    /// Requires `min <= value <= max` for an integer.
    pub fn range_i64(&mut self, field: &str, value: i64, min: i64, max: i64) {
        self.range(field, value, min, max);
    }

    fn range<T>(&mut self, field: &str, value: T, min: T, max: T)
    where
        T: PartialOrd + Copy + std::fmt::Display + Into<Value> + serde::Serialize,
    {
        if value < min {
            self.error(
                "greater_than_equal",
                field,
                format!("Input should be greater than or equal to {min}"),
                Some(value.into()),
                Some(json!({ "ge": min })),
            );
        } else if value > max {
            self.error(
                "less_than_equal",
                field,
                format!("Input should be less than or equal to {max}"),
                Some(value.into()),
                Some(json!({ "le": max })),
            );
        }
    }

    /// The errors recorded so far.
    pub fn into_errors(self) -> Vec<FieldError> {
        self.errors
    }

    /// Ends validation: `Ok` when no rule was broken.
    pub fn finish(self) -> Result<(), AppError> {
        if self.errors.is_empty() { Ok(()) } else { Err(AppError::Validation(self.errors)) }
    }

    /// Runs `T`'s rules under `prefix`.
    pub fn check<T: Validate>(prefix: &'static str, value: &T) -> Result<(), AppError> {
        let mut v = Validator::new(prefix);
        value.validate(&mut v);
        v.finish()
    }
}
