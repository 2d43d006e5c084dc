//! Form and query strings (`application/x-www-form-urlencoded`), with the same 422s as JSON.

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::{
    echo::{ECHO_ITEMS, short_text},
    json::NUL_MESSAGE,
    serde_errors::describe_serde_error,
};
use crate::error::{AppError, FieldError};

/// Deserializes `application/x-www-form-urlencoded` bytes (a query string or form body) into `T`.
pub fn parse_urlencoded<T: DeserializeOwned>(prefix: &'static str, bytes: &[u8]) -> Result<T, AppError> {
    parse_pairs(prefix, form_urlencoded::parse(bytes).map(|(k, v)| (k.into_owned(), v.into_owned())).collect())
}

/// Deserializes decoded name/value pairs (form fields, however they arrived) into `T`, with the
/// same rules and 422 errors as [`parse_urlencoded`].
pub fn parse_pairs<T: DeserializeOwned>(prefix: &'static str, mut pairs: Vec<(String, String)>) -> Result<T, AppError> {
    // Empty values mean "not given" for optional parameters, as browsers send `?x=` for blank inputs.
    pairs.retain(|(_, v)| !v.is_empty());
    if let Some((key, _)) = pairs.iter().find(|(k, v)| k.contains('\0') || v.contains('\0')) {
        return Err(AppError::field(FieldError {
            kind: "string_nul".into(),
            loc: vec![prefix.into(), short_text(&key.replace('\0', "\\0")).into()],
            msg: NUL_MESSAGE.into(),
            input: None,
            ctx: None,
        }));
    }
    let encoded = form_urlencoded::Serializer::new(String::new()).extend_pairs(&pairs).finish();
    let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(encoded.as_bytes()));
    serde_path_to_error::deserialize::<_, T>(de).map_err(|err| {
        let path = err.path().to_string();
        let path = if path == "." { String::new() } else { path };
        let input = pairs.iter().find(|(k, _)| *k == path).map(|(_, v)| Value::from(short_text(v)));
        // Only the start of the form is echoed (see `short_input`); it is built from short copies
        // so a large form is never copied whole into an error.
        let whole = Value::Object(
            pairs.iter().take(ECHO_ITEMS).map(|(k, v)| (short_text(k), Value::from(short_text(v)))).collect(),
        );
        AppError::field(describe_serde_error(prefix, &path, &err.inner().to_string(), input, Some(&whole)))
    })
}
