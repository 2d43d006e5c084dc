//! Timestamps on the wire: RFC 3339 in UTC with microseconds, e.g. `2026-01-02T03:04:05.123456Z`.
//!
//! Requests may also send a timestamp without an offset (`2026-12-01T21:20:00.123456`, Dart's
//! `toIso8601String()` of a local time, or Python's `isoformat()` of a naive one): the original
//! accepted those, so they are read as UTC here too, with or without fractional seconds.

use chrono::{DateTime, NaiveDateTime, SecondsFormat, Utc};
use serde::{Deserialize, Deserializer, Serializer};

/// Formats a timestamp the way every response writes it.
pub fn format_utc(at: &DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// `serialize_with` for `DateTime<Utc>`.
pub fn serialize<S: Serializer>(at: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format_utc(at))
}

/// `serialize_with` for `Option<DateTime<Utc>>`.
pub fn serialize_opt<S: Serializer>(at: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
    match at {
        Some(at) => s.serialize_str(&format_utc(at)),
        None => s.serialize_none(),
    }
}

/// Parses a timestamp a client sent: RFC 3339 with an offset (`Z`, `+05:30`), or ISO 8601 without
/// one, read as UTC; `T`, `t` or a space between date and time; any number of fractional digits.
/// On failure the error is chrono's for the RFC 3339 form (the 422 mapping reads its wording).
pub fn parse_utc(input: &str) -> Result<DateTime<Utc>, chrono::ParseError> {
    let input = input.trim();
    let with_offset = match input.parse::<DateTime<Utc>>() {
        Ok(at) => return Ok(at),
        Err(e) => e,
    };
    // chrono's naive parser wants an upper-case `T`; the byte at 10 is the separator when the date
    // is the usual `YYYY-MM-DD` (anything else fails below anyway).
    let naive = match input.as_bytes().get(10) {
        Some(b' ' | b't') => format!("{}T{}", &input[..10], &input[11..]),
        _ => input.to_owned(),
    };
    naive.parse::<NaiveDateTime>().map(|at| at.and_utc()).map_err(|_| with_offset)
}

/// A timestamp as read by [`parse_utc`].
struct Lenient(DateTime<Utc>);

impl<'de> Deserialize<'de> for Lenient {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = std::borrow::Cow::<'de, str>::deserialize(d)?;
        parse_utc(&raw).map(Lenient).map_err(serde::de::Error::custom)
    }
}

/// `deserialize_with` for `DateTime<Utc>`: see [`parse_utc`].
pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
    Lenient::deserialize(d).map(|l| l.0)
}

/// `deserialize_with` for `Option<DateTime<Utc>>` (with `#[serde(default)]`): `null` is `None`.
pub fn deserialize_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
    Ok(Option::<Lenient>::deserialize(d)?.map(|l| l.0))
}

/// `deserialize_with` for `Option<Option<DateTime<Utc>>>` partial-update fields (with
/// `#[serde(default)]`): absent stays `None`, `null` is `Some(None)`, a value `Some(Some(at))`.
pub fn deserialize_present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<DateTime<Utc>>>, D::Error> {
    deserialize_opt(d).map(Some)
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn writes_utc_with_microseconds() {
        let at = chrono::Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap();
        assert_eq!(super::format_utc(&at), "2026-01-02T03:04:05.000000Z");
    }

    #[test]
    fn reads_offsets_and_offset_less_timestamps_as_utc() {
        let at = |s: &str| format_utc(&parse_utc(s).unwrap());
        assert_eq!(at("2026-12-01T21:20:00.123456"), "2026-12-01T21:20:00.123456Z");
        assert_eq!(at("2026-12-01T21:20:00.123"), "2026-12-01T21:20:00.123000Z");
        assert_eq!(at("2026-12-01T21:20:00"), "2026-12-01T21:20:00.000000Z");
        assert_eq!(at("2026-12-01 21:20:00.5"), "2026-12-01T21:20:00.500000Z");
        assert_eq!(at("2026-12-01t21:20:00"), "2026-12-01T21:20:00.000000Z");
        assert_eq!(at("2026-12-01T21:20:00Z"), "2026-12-01T21:20:00.000000Z");
        assert_eq!(at("2026-12-01T21:20:00.123456+05:30"), "2026-12-01T15:50:00.123456Z");
        for bad in ["", "yesterday", "2026-12-01", "2026-13-01T00:00:00", "2026-12-01T21:20:00 junk"] {
            assert!(parse_utc(bad).is_err(), "{bad}");
        }
        // A multi-byte character where the separator would be is refused, not a panic.
        assert!(parse_utc("2026-12-01ఠ21:20:00").is_err());
    }

    #[test]
    fn serde_helpers_tell_absent_null_and_value_apart() {
        #[derive(serde::Deserialize)]
        struct Body {
            #[serde(default, deserialize_with = "deserialize_present")]
            at: Option<Option<DateTime<Utc>>>,
        }
        let read = |s: &str| serde_json::from_str::<Body>(s).map(|b| b.at);
        assert_eq!(read("{}").unwrap(), None);
        assert_eq!(read(r#"{"at": null}"#).unwrap(), Some(None));
        assert_eq!(
            read(r#"{"at": "2026-12-01T21:20:00"}"#).unwrap().flatten().map(|a| format_utc(&a)).as_deref(),
            Some("2026-12-01T21:20:00.000000Z")
        );
        let err = read(r#"{"at": "soon"}"#).unwrap_err().to_string();
        assert!(err.contains("input contains invalid characters"), "{err}");
    }
}
