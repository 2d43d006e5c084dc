//! JSON bodies: parsed with the original's 422s for empty or broken JSON, of the right kind,
//! without NUL characters, deserialized with the failing field's location.

use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::{Validate, echo::short_input, serde_errors::describe_serde_error};
use crate::error::{AppError, FieldError};

/// Message of a 422 for text holding the NUL character.
pub const NUL_MESSAGE: &str = "Input should not contain the NUL character";

/// Where the first NUL character is in a JSON document (in a string or a key), as a path below
/// the document. PostgreSQL `text` and `jsonb` cannot hold NUL, so such input is refused with a
/// 422 at its location instead of failing in the database.
pub fn nul_location(value: &Value) -> Option<Vec<Value>> {
    match value {
        Value::String(s) if s.contains('\0') => Some(Vec::new()),
        Value::Array(items) => items.iter().enumerate().find_map(|(i, item)| {
            nul_location(item).map(|mut rest| {
                rest.insert(0, i.into());
                rest
            })
        }),
        Value::Object(map) => map.iter().find_map(|(key, item)| {
            if key.contains('\0') {
                return Some(vec![Value::from(key.replace('\0', "\\0"))]);
            }
            nul_location(item).map(|mut rest| {
                rest.insert(0, key.clone().into());
                rest
            })
        }),
        _ => None,
    }
}

pub(super) fn refuse_nul(prefix: &'static str, value: &Value) -> Result<(), AppError> {
    match nul_location(value) {
        None => Ok(()),
        Some(path) => {
            let mut loc = vec![Value::from(prefix)];
            loc.extend(path);
            Err(AppError::field(FieldError {
                kind: "string_nul".into(),
                loc,
                msg: NUL_MESSAGE.into(),
                input: None,
                ctx: None,
            }))
        }
    }
}

/// Refuses a body whose top-level JSON kind is not the one `T` takes (serde would otherwise read a
/// struct from an array, field by field).
pub fn check_body_shape<T: Validate>(value: &Value) -> Result<(), AppError> {
    let error = if T::expects_array() {
        (!value.is_array()).then_some(("list_type", "Input should be a valid list"))
    } else {
        (!value.is_object())
            .then_some(("model_attributes_type", "Input should be a valid dictionary or object to extract fields from"))
    };
    match error {
        Some((kind, msg)) => {
            Err(AppError::field(FieldError::new(kind, &["body"], msg).with_input(short_input(value.clone()))))
        }
        None => Ok(()),
    }
}

/// Parses raw bytes as a JSON document, with the original's 422 errors for empty or broken JSON.
pub fn parse_json_body(bytes: &[u8]) -> Result<Value, AppError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(AppError::field(FieldError::new("missing", &["body"], "Field required").with_input(Value::Null)));
    }
    serde_json::from_slice::<Value>(bytes).map_err(|e| {
        let offset = byte_offset(bytes, e.line(), e.column());
        AppError::field(FieldError {
            kind: "json_invalid".into(),
            loc: vec!["body".into(), offset.into()],
            msg: "JSON decode error".into(),
            input: Some(json!({})),
            ctx: Some(json!({ "error": e.to_string() })),
        })
    })
}

pub(super) fn byte_offset(bytes: &[u8], line: usize, column: usize) -> usize {
    let mut offset = 0;
    for (i, l) in bytes.split(|b| *b == b'\n').enumerate() {
        if i + 1 == line {
            return offset + column.saturating_sub(1);
        }
        offset += l.len() + 1;
    }
    offset
}

/// Deserializes a JSON value into `T`, reporting the failing field under `prefix`.
pub fn from_value<T: DeserializeOwned>(prefix: &'static str, value: Value) -> Result<T, AppError> {
    serde_path_to_error::deserialize::<_, T>(&value).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.inner().to_string();
        let field_path = if path == "." { String::new() } else { path };
        let at = lookup(&value, &field_path);
        AppError::field(describe_serde_error(prefix, &field_path, &inner, at.cloned(), Some(&value)))
    })
}

pub(super) fn lookup<'a>(value: &'a Value, path: &str) -> Option<&'a Value> {
    let mut current = value;
    for part in path.split('.').filter(|p| !p.is_empty()) {
        current = match current {
            Value::Object(map) => map.get(part)?,
            Value::Array(items) => items.get(part.trim_matches(|c| c == '[' || c == ']').parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(current)
}
