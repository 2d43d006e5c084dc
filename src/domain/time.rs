//! Timestamps on the wire: RFC 3339 in UTC with microseconds, e.g. `2026-01-02T03:04:05.123456Z`.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serializer;

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

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    #[test]
    fn writes_utc_with_microseconds() {
        let at = chrono::Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap();
        assert_eq!(super::format_utc(&at), "2026-01-02T03:04:05.000000Z");
    }
}
