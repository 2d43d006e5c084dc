//! What a 422 echoes of the input: a short prefix, so an error answer never grows with the request.

use serde_json::Value;

/// Characters of a string echoed back in a 422 `input`; longer ones are cut, ending in `…`.
pub const ECHO_CHARS: usize = 64;
/// Entries of a list or object echoed back in a 422 `input`; the rest are left out.
pub const ECHO_ITEMS: usize = 16;

/// The start of `text`, at most [`ECHO_CHARS`] characters (with `…` when cut).
pub(super) fn short_text(text: &str) -> String {
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
