//! Which records a dataset export takes: parsed and checked once, from the command line or a
//! job's arguments, into values the database filter binds.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::{db::exports::Filter, domain::MediaType};

/// Review states a record can be in, as the manifest writes them.
pub const REVIEW_STATES: [&str; 4] = ["unreviewed", "approved", "rejected", "reviewed"];

/// The records to export: every condition given must hold; a list matches any of its values;
/// empty lists and `None` select everything.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Selection {
    /// Categories, by name or id.
    #[serde(default)]
    pub categories: Vec<String>,
    /// Media types.
    #[serde(default)]
    pub media_types: Vec<MediaType>,
    /// Languages, exactly as stored.
    #[serde(default)]
    pub languages: Vec<String>,
    /// Review states, from [`REVIEW_STATES`].
    #[serde(default)]
    pub review_states: Vec<String>,
    /// Created at or after.
    #[serde(default)]
    pub from: Option<DateTime<Utc>>,
    /// Created before.
    #[serde(default)]
    pub to: Option<DateTime<Utc>>,
    /// West, south, east, north edges in degrees (boundary included).
    #[serde(default)]
    pub bbox: Option<[f64; 4]>,
}

/// Why a selection is refused.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SelectionError {
    /// An unknown review state.
    #[error("unknown review status {0:?} (expected one of unreviewed, approved, rejected, reviewed)")]
    ReviewState(String),
    /// A bounding box that is malformed or out of range.
    #[error("invalid bounding box {0:?}: expected minlon,minlat,maxlon,maxlat in degrees, min <= max")]
    Bbox(String),
    /// A date range whose end is not after its start.
    #[error("the date range is empty: --to must be after --from")]
    EmptyRange,
    /// A date that is neither `YYYY-MM-DD` nor RFC 3339.
    #[error("invalid date {0:?}: expected YYYY-MM-DD or an RFC 3339 time")]
    Date(String),
    /// A media type this service does not know.
    #[error("unknown media type {0:?} (expected text, audio, video, image or document)")]
    MediaType(String),
}

impl Selection {
    /// Checks the values a caller could get wrong.
    pub fn validate(&self) -> Result<(), SelectionError> {
        if let Some(bad) = self.review_states.iter().find(|s| !REVIEW_STATES.contains(&s.as_str())) {
            return Err(SelectionError::ReviewState(bad.clone()));
        }
        if let Some(b) = self.bbox
            && !bbox_ok(b)
        {
            return Err(SelectionError::Bbox(format!("{},{},{},{}", b[0], b[1], b[2], b[3])));
        }
        if let (Some(from), Some(to)) = (self.from, self.to)
            && to <= from
        {
            return Err(SelectionError::EmptyRange);
        }
        Ok(())
    }

    /// The database filter for this selection.
    pub fn filter(&self) -> Filter<'_> {
        Filter {
            categories: &self.categories,
            media_types: &self.media_types,
            languages: &self.languages,
            review_states: &self.review_states,
            created_from: self.from,
            created_before: self.to,
            bbox: self.bbox,
        }
    }
}

fn bbox_ok([west, south, east, north]: [f64; 4]) -> bool {
    [west, south, east, north].iter().all(|v| v.is_finite())
        && (-180.0..=180.0).contains(&west)
        && (-180.0..=180.0).contains(&east)
        && (-90.0..=90.0).contains(&south)
        && (-90.0..=90.0).contains(&north)
        && west <= east
        && south <= north
}

/// Parses `minlon,minlat,maxlon,maxlat`.
pub fn parse_bbox(text: &str) -> Result<[f64; 4], SelectionError> {
    let bad = || SelectionError::Bbox(text.to_owned());
    let parts: Vec<f64> =
        text.split(',').map(|p| p.trim().parse::<f64>()).collect::<Result<_, _>>().map_err(|_| bad())?;
    let b: [f64; 4] = parts.try_into().map_err(|_| bad())?;
    if bbox_ok(b) { Ok(b) } else { Err(bad()) }
}

/// Which end of a range a date names: a bare day starts the range at its midnight and ends it
/// after its last instant (so `--from 2026-01-01 --to 2026-01-31` takes all of January).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeEnd {
    /// The first instant included.
    Start,
    /// The first instant excluded.
    End,
}

/// Parses `YYYY-MM-DD` (UTC day) or an RFC 3339 time into one end of a range.
pub fn parse_date(text: &str, end: RangeEnd) -> Result<DateTime<Utc>, SelectionError> {
    let text = text.trim();
    if let Ok(day) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        let day = match end {
            RangeEnd::Start => day,
            RangeEnd::End => day.succ_opt().ok_or_else(|| SelectionError::Date(text.to_owned()))?,
        };
        return Ok(day.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc());
    }
    DateTime::parse_from_rfc3339(text).map(|t| t.with_timezone(&Utc)).map_err(|_| SelectionError::Date(text.to_owned()))
}

/// Parses a media type name.
pub fn parse_media_type(text: &str) -> Result<MediaType, SelectionError> {
    MediaType::parse(text.trim()).ok_or_else(|| SelectionError::MediaType(text.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounding_boxes_are_parsed_and_checked() {
        assert_eq!(parse_bbox("78.1, 17.2,78.9,17.8").unwrap(), [78.1, 17.2, 78.9, 17.8]);
        for bad in ["78,17,79", "a,b,c,d", "79,17,78,18", "78,18,79,17", "200,0,201,1", "0,-91,1,0", "NaN,0,1,1"] {
            assert!(parse_bbox(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_bare_day_covers_the_whole_day() {
        let from = parse_date("2026-01-01", RangeEnd::Start).unwrap();
        let to = parse_date("2026-01-31", RangeEnd::End).unwrap();
        assert_eq!(from.to_rfc3339(), "2026-01-01T00:00:00+00:00");
        assert_eq!(to.to_rfc3339(), "2026-02-01T00:00:00+00:00");
        let exact = parse_date("2026-01-01T05:30:00+05:30", RangeEnd::End).unwrap();
        assert_eq!(exact.to_rfc3339(), "2026-01-01T00:00:00+00:00");
        assert!(parse_date("yesterday", RangeEnd::Start).is_err());
    }

    #[test]
    fn selections_are_validated() {
        assert!(Selection::default().validate().is_ok());
        let bad_state = Selection { review_states: vec!["maybe".into()], ..Default::default() };
        assert_eq!(bad_state.validate(), Err(SelectionError::ReviewState("maybe".into())));
        let day = parse_date("2026-01-01", RangeEnd::Start).unwrap();
        let empty = Selection { from: Some(day), to: Some(day), ..Default::default() };
        assert_eq!(empty.validate(), Err(SelectionError::EmptyRange));
        assert!(parse_media_type("audio").is_ok());
        assert!(parse_media_type("sound").is_err());
    }
}
