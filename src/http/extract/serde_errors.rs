//! A serde error message turned into a pydantic-style field error.

use serde_json::{Value, json};

use super::echo::short_input;
use crate::error::FieldError;

/// Turns a serde error message into a pydantic-style field error.
pub(super) fn describe_serde_error(
    prefix: &'static str,
    path: &str,
    message: &str,
    input: Option<Value>,
    whole: Option<&Value>,
) -> FieldError {
    let input = input.map(short_input);
    let mut loc: Vec<Value> = vec![prefix.into()];
    loc.extend(path.split('.').filter(|s| !s.is_empty()).map(|s| {
        s.trim_matches(|c| c == '[' || c == ']').parse::<u64>().map(Value::from).unwrap_or_else(|_| Value::from(s))
    }));
    let error = |kind: &str, msg: &str| FieldError {
        kind: kind.into(),
        loc: loc.clone(),
        msg: msg.into(),
        input: input.clone(),
        ctx: None,
    };

    if let Some(field) = message.strip_prefix("missing field `").and_then(|m| m.split('`').next()) {
        let mut loc = loc.clone();
        loc.push(field.into());
        return FieldError {
            kind: "missing".into(),
            loc,
            msg: "Field required".into(),
            input: if path.is_empty() { whole.cloned().map(short_input) } else { input },
            ctx: None,
        };
    }
    if let Some(rest) = message.strip_prefix("unknown variant `") {
        let expected: Vec<String> = rest
            .split("expected ")
            .nth(1)
            .unwrap_or("")
            .trim_start_matches("one of ")
            .split(", ")
            .flat_map(|s| s.split(" or "))
            .map(|s| format!("'{}'", s.trim_matches('`')))
            .filter(|s| s != "''")
            .collect();
        let expected = join_or(&expected);
        return FieldError {
            kind: "enum".into(),
            loc,
            msg: format!("Input should be {expected}"),
            input,
            ctx: Some(json!({ "expected": expected })),
        };
    }
    let expected = message.rsplit("expected ").next().unwrap_or("");
    if path.is_empty() && message.starts_with("invalid type") {
        return error("model_attributes_type", "Input should be a valid dictionary or object to extract fields from");
    }
    if message.contains("UUID") || message.contains("uuid") || expected.contains("UUID") {
        return error("uuid_parsing", "Input should be a valid UUID");
    }
    if message.contains("premature end of input")
        || message.contains("input contains invalid characters")
        || message.contains("input is out of range")
        || message.contains("trailing input")
    {
        return error("datetime_parsing", "Input should be a valid date or datetime");
    }
    let (kind, msg) = if expected.starts_with('i')
        || expected.starts_with('u')
        || expected.contains("integer")
        || message.contains("invalid digit")
        || message.contains("parse integer")
    {
        ("int_parsing", "Input should be a valid integer")
    } else if expected.starts_with('f') || message.contains("float") {
        ("float_parsing", "Input should be a valid number")
    } else if expected.contains("bool") || message.contains("`true` or `false`") {
        ("bool_parsing", "Input should be a valid boolean")
    } else if expected.contains("string") || expected.contains("str") {
        ("string_type", "Input should be a valid string")
    } else if expected.contains("sequence") {
        ("list_type", "Input should be a valid list")
    } else if expected.contains("struct") || expected.contains("map") {
        ("model_attributes_type", "Input should be a valid dictionary or object to extract fields from")
    } else {
        ("value_error", message)
    };
    let mut e = error(kind, msg);
    if kind == "value_error" {
        e.ctx = Some(json!({ "error": message }));
    }
    e
}

pub(super) fn join_or(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} or {}", rest.join(", "), last),
    }
}
