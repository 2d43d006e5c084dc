//! Request extractors whose rejections are the original's 422 shape, never a 500.
//!
//! [`ValidJson`], [`ValidQuery`] and [`ValidPath`] deserialize with `serde_path_to_error`, so a bad
//! field is reported at its location (`["body","location","latitude"]`), and then run the type's
//! [`Validate`] rules (lengths, ranges) into the same error list.

use axum::{
    body::Bytes,
    extract::{FromRequest, FromRequestParts, Path, RawPathParams, Request, rejection::PathRejection},
    http::{header, request::Parts},
};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

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
        if !value.is_finite() {
            self.error("finite_number", field, "Input should be a finite number", Some(value.to_string().into()), None);
        } else if value < min {
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

    /// Requires `min <= value <= max` for an integer.
    pub fn range_i64(&mut self, field: &str, value: i64, min: i64, max: i64) {
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

/// A JSON body, deserialized and validated; rejections are 422 in the original's shape (413 for
/// a body over the body limit, axum's default of 2 MiB).
#[derive(Debug, Clone)]
pub struct ValidJson<T>(pub T);

impl<S, T> FromRequest<S> for ValidJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Validate,
{
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let content_type = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_owned);
        // Over the body limit (axum's default, 2 MiB) is 413 in the API's `{"detail"}` shape.
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                AppError::PayloadTooLarge("Request body too large".into())
            } else {
                AppError::BadRequest(format!("Could not read the request body: {}", e.body_text()))
            }
        })?;
        // The original parses a body without Content-Type as JSON; any other declared type is refused.
        if let Some(ct) = content_type.as_deref() {
            let mime = ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
            if !(mime == "application/json" || mime.ends_with("+json")) {
                return Err(AppError::field(
                    FieldError::new("json_type", &["body"], "Expected a JSON body (Content-Type: application/json)")
                        .with_ctx(json!({ "content_type": ct })),
                ));
            }
        }
        let value = parse_json_body(&bytes)?;
        check_body_shape::<T>(&value)?;
        refuse_nul("body", &value)?;
        let parsed: T = from_value("body", value)?;
        Validator::check("body", &parsed)?;
        Ok(Self(parsed))
    }
}

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

fn refuse_nul(prefix: &'static str, value: &Value) -> Result<(), AppError> {
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

fn byte_offset(bytes: &[u8], line: usize, column: usize) -> usize {
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

fn lookup<'a>(value: &'a Value, path: &str) -> Option<&'a Value> {
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

/// Turns a serde error message into a pydantic-style field error.
fn describe_serde_error(
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

fn join_or(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} or {}", rest.join(", "), last),
    }
}

/// Query parameters, deserialized and validated; rejections are 422 with `loc` `["query", ...]`.
#[derive(Debug, Clone)]
pub struct ValidQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for ValidQuery<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Validate,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or("");
        let parsed = parse_urlencoded::<T>("query", query.as_bytes())?;
        Validator::check("query", &parsed)?;
        Ok(Self(parsed))
    }
}

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

/// Characters of a string echoed back in a 422 `input`; longer ones are cut, ending in `…`.
pub const ECHO_CHARS: usize = 64;
/// Entries of a list or object echoed back in a 422 `input`; the rest are left out.
pub const ECHO_ITEMS: usize = 16;

/// The start of `text`, at most [`ECHO_CHARS`] characters (with `…` when cut).
fn short_text(text: &str) -> String {
    match text.char_indices().nth(ECHO_CHARS) {
        None => text.to_owned(),
        Some((end, _)) => format!("{}…", &text[..end]),
    }
}

/// A short prefix of an input, safe to echo in a 422: strings cut to [`ECHO_CHARS`] characters,
/// lists and objects to [`ECHO_ITEMS`] entries, three levels deep. An error answer must never
/// grow with the request (a form of many large fields once came back as a 315 MB error).
pub fn short_input(value: Value) -> Value {
    fn cut(value: Value, depth: usize) -> Value {
        match value {
            Value::String(s) => Value::String(short_text(&s)),
            Value::Array(_) | Value::Object(_) if depth == 0 => Value::String("…".into()),
            Value::Array(items) => {
                Value::Array(items.into_iter().take(ECHO_ITEMS).map(|v| cut(v, depth - 1)).collect())
            }
            Value::Object(map) => Value::Object(
                map.into_iter().take(ECHO_ITEMS).map(|(k, v)| (short_text(&k), cut(v, depth - 1))).collect(),
            ),
            other => other,
        }
    }
    cut(value, 3)
}

/// Path parameters; a value of the wrong type is a 422 with `loc` `["path", <name>]`.
#[derive(Debug, Clone)]
pub struct ValidPath<T>(pub T);

impl<S, T> FromRequestParts<S> for ValidPath<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Send,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(value)) => Ok(Self(value)),
            Err(PathRejection::FailedToDeserializePathParams(e)) => {
                use axum::extract::path::ErrorKind;
                let (key, value, expected) = match e.kind() {
                    ErrorKind::ParseErrorAtKey { key, value, expected_type } => {
                        (key.clone(), value.clone(), *expected_type)
                    }
                    ErrorKind::ParseError { value, expected_type } => (String::new(), value.clone(), *expected_type),
                    ErrorKind::DeserializeError { key, value, message } => {
                        let expected = if message.to_ascii_lowercase().contains("uuid") { "Uuid" } else { "" };
                        (key.clone(), value.clone(), expected)
                    }
                    // Types that parse themselves from a string (Uuid) fail with a bare message;
                    // name the single path parameter from the raw params instead.
                    ErrorKind::Message(message) => {
                        let raw = RawPathParams::from_request_parts(parts, state).await.ok();
                        let (key, value) = raw
                            .as_ref()
                            .and_then(|p| p.iter().next())
                            .map(|(k, v)| (k.to_owned(), v.to_owned()))
                            .unwrap_or_default();
                        let expected = if message.to_ascii_lowercase().contains("uuid") { "Uuid" } else { "" };
                        (key, value, expected)
                    }
                    other => return Err(AppError::BadRequest(other.to_string())),
                };
                let (kind, msg) = if expected.contains("Uuid") {
                    ("uuid_parsing", "Input should be a valid UUID")
                } else if expected.starts_with('i') || expected.starts_with('u') {
                    ("int_parsing", "Input should be a valid integer, unable to parse string as an integer")
                } else if expected.starts_with('f') {
                    ("float_parsing", "Input should be a valid number, unable to parse string as a number")
                } else {
                    ("value_error", "Invalid path parameter")
                };
                let mut loc = vec![Value::from("path")];
                if !key.is_empty() {
                    loc.push(key.into());
                }
                Err(AppError::field(FieldError {
                    kind: kind.into(),
                    loc,
                    msg: msg.into(),
                    input: Some(value.into()),
                    ctx: None,
                }))
            }
            Err(other) => Err(AppError::BadRequest(other.body_text())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    struct Point {
        #[allow(dead_code)]
        latitude: f64,
    }

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "lowercase")]
    enum Media {
        Text,
        Audio,
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Body {
        phone: String,
        location: Option<Point>,
        media: Option<Media>,
        limit: Option<u32>,
    }

    fn err_of(value: Value) -> FieldError {
        match from_value::<Body>("body", value).unwrap_err() {
            AppError::Validation(mut errors) => errors.remove(0),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn missing_field_is_reported_at_its_location() {
        let e = err_of(json!({}));
        assert_eq!(e.kind, "missing");
        assert_eq!(e.loc, vec![json!("body"), json!("phone")]);
    }

    #[test]
    fn nested_type_errors_carry_the_full_path() {
        let e = err_of(json!({"phone": "1", "location": {"latitude": "x"}}));
        assert_eq!(e.kind, "float_parsing");
        assert_eq!(e.loc, vec![json!("body"), json!("location"), json!("latitude")]);
        assert_eq!(e.input, Some(json!("x")));
    }

    #[test]
    fn bad_enum_lists_the_expected_values() {
        let e = err_of(json!({"phone": "1", "media": "gif"}));
        assert_eq!(e.kind, "enum");
        assert_eq!(e.msg, "Input should be 'text' or 'audio'");
    }

    impl Validate for Body {
        fn validate(&self, _v: &mut Validator) {}
    }

    #[test]
    fn non_object_body_is_model_attributes_type() {
        let AppError::Validation(errors) = check_body_shape::<Body>(&json!([1])).unwrap_err() else { panic!() };
        let e = errors[0].clone();
        assert_eq!(e.kind, "model_attributes_type");
        assert_eq!(e.loc, vec![json!("body")]);
    }

    #[test]
    fn broken_json_reports_its_offset() {
        let AppError::Validation(errors) = parse_json_body(b"{\"a\": }").unwrap_err() else { panic!() };
        assert_eq!(errors[0].kind, "json_invalid");
        assert_eq!(errors[0].loc[0], json!("body"));
    }

    #[test]
    fn query_integers_are_parsed_and_reported() {
        let AppError::Validation(errors) = parse_urlencoded::<Body>("query", b"phone=1&limit=abc").unwrap_err() else {
            panic!()
        };
        assert_eq!(errors[0].kind, "int_parsing");
        assert_eq!(errors[0].loc, vec![json!("query"), json!("limit")]);
        let ok: Body = parse_urlencoded("query", b"phone=%2B91&limit=5&media=").unwrap();
        assert_eq!(ok.phone, "+91");
        assert!(ok.media.is_none());
    }

    #[test]
    fn string_lengths_count_characters() {
        let mut v = Validator::new("body");
        v.str_len("name", "తెలుగు", 1, 6);
        v.str_len("phone", "", 1, 20);
        let AppError::Validation(errors) = v.finish().unwrap_err() else { panic!() };
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].msg, "String should have at least 1 character");
    }

    #[tokio::test]
    async fn a_malformed_uuid_path_parameter_is_a_422_naming_it() {
        use axum::{Router, body::Body, http::Request as HttpRequest, routing::get};
        use tower::ServiceExt;

        async fn handler(ValidPath(id): ValidPath<uuid::Uuid>) -> String {
            id.to_string()
        }
        let app: Router = Router::new().route("/things/{thing_id}", get(handler));
        let response =
            app.clone().oneshot(HttpRequest::get("/things/not-a-uuid").body(Body::empty()).unwrap()).await.unwrap();
        assert_eq!(response.status(), 422);
        let body = axum::body::to_bytes(response.into_body(), 1 << 16).await.unwrap();
        let body: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["errors"][0]["type"], "uuid_parsing");
        assert_eq!(body["errors"][0]["loc"], json!(["path", "thing_id"]));
        assert_eq!(body["errors"][0]["input"], "not-a-uuid");
        let ok = app
            .oneshot(HttpRequest::get("/things/6f1c1a3e-0000-4000-8000-000000000000").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(ok.status(), 200);
    }

    #[test]
    fn echoed_inputs_are_short_prefixes() {
        let long = "అ".repeat(10_000);
        let mut v = Validator::new("body");
        v.str_len("title", &long, 1, 200);
        let AppError::Validation(errors) = v.finish().unwrap_err() else { panic!() };
        let echoed = errors[0].input.as_ref().unwrap().as_str().unwrap();
        assert_eq!(echoed.chars().count(), ECHO_CHARS + 1);
        assert!(echoed.ends_with('…'));
        assert_eq!(short_input(json!("short")), json!("short"));
        let wide = Value::Array((0..1000).map(|i| json!({ "k": i, "deep": [[[["x"]]]] })).collect());
        let cut = short_input(wide);
        assert_eq!(cut.as_array().unwrap().len(), ECHO_ITEMS);
        assert_eq!(cut[0]["deep"][0], json!("…"));
        // A form missing a field echoes only the start of the form.
        let pairs: Vec<(String, String)> = (0..500).map(|i| (format!("f{i}"), "x".repeat(4096))).collect();
        let AppError::Validation(errors) = parse_pairs::<Body>("body", pairs).unwrap_err() else { panic!() };
        assert_eq!(errors[0].kind, "missing");
        assert!(serde_json::to_string(&errors).unwrap().len() < 4096);
    }

    #[test]
    fn nul_characters_are_refused_where_they_are() {
        let value = json!({"title": "ok", "metadata": {"tags": ["a", "b\u{0}c"]}});
        assert_eq!(nul_location(&value), Some(vec![json!("metadata"), json!("tags"), json!(1)]));
        assert_eq!(nul_location(&json!({"a": "clean", "b": [1, 2]})), None);
        let AppError::Validation(errors) = refuse_nul("body", &value).unwrap_err() else { panic!() };
        assert_eq!(errors[0].kind, "string_nul");
        assert_eq!(errors[0].loc, vec![json!("body"), json!("metadata"), json!("tags"), json!(1)]);
        let AppError::Validation(errors) = parse_urlencoded::<Body>("query", b"phone=a%00b").unwrap_err() else {
            panic!()
        };
        assert_eq!(errors[0].loc, vec![json!("query"), json!("phone")]);
    }
}
