//! The states of a record: its `status` (`record.status`, free text by contract) and a reviewer's
//! decision (`record.review_status`, `approved` or `rejected`).
//!
//! Both columns are `varchar`. The values this service writes are variants; `status` also keeps
//! any other text as it is ([`RecordStatus::Other`]): reviewers and admins may set any status of
//! 1 to 20 characters (as in the original), and a database taken over from the original may hold
//! arbitrary strings, which must read back unchanged, never relabelled. `review_status` is
//! constrained to its two values, so another value fails the read loudly (logged, 500).

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sqlx::{
    Decode, Encode, Postgres, Type,
    encode::IsNull,
    error::BoxDynError,
    postgres::{PgArgumentBuffer, PgTypeInfo, PgValueRef},
};

/// Longest status a client may set (the original's `status` max length; the column's check).
pub const STATUS_MAX_CHARS: usize = 20;

/// The status of a record.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RecordStatus {
    /// Created by JSON, no file yet (the default).
    Pending,
    /// A file was uploaded with it.
    Uploaded,
    /// A sample file is being generated (`POST /records/?generate_file=true`).
    Generating,
    /// The sample file was generated and stored.
    Generated,
    /// Generating the sample file failed; the record is kept.
    GenerationFailed,
    /// A reviewer approved it.
    Approved,
    /// A reviewer rejected it.
    Rejected,
    /// Any other text: set by a reviewer or an admin, or carried over from the original. Never
    /// holds the name of another variant.
    Other(String),
}

impl RecordStatus {
    /// The variants with a name of their own.
    const KNOWN: [RecordStatus; 7] = [
        RecordStatus::Pending,
        RecordStatus::Uploaded,
        RecordStatus::Generating,
        RecordStatus::Generated,
        RecordStatus::GenerationFailed,
        RecordStatus::Approved,
        RecordStatus::Rejected,
    ];

    /// The stored text.
    pub fn as_str(&self) -> &str {
        match self {
            RecordStatus::Pending => "pending",
            RecordStatus::Uploaded => "uploaded",
            RecordStatus::Generating => "generating",
            RecordStatus::Generated => "generated",
            RecordStatus::GenerationFailed => "generation_failed",
            RecordStatus::Approved => "approved",
            RecordStatus::Rejected => "rejected",
            RecordStatus::Other(text) => text,
        }
    }

    /// The status a stored or sent text names: a variant for the names above (exact, as
    /// stored), [`RecordStatus::Other`] with the text unchanged otherwise.
    pub fn from_text(text: impl Into<String> + AsRef<str>) -> Self {
        match Self::KNOWN.into_iter().find(|known| known.as_str() == text.as_ref()) {
            Some(known) => known,
            None => RecordStatus::Other(text.into()),
        }
    }

    /// The review decision this status states, if it is one.
    pub fn decision(&self) -> Option<ReviewStatus> {
        match self {
            RecordStatus::Approved => Some(ReviewStatus::Approved),
            RecordStatus::Rejected => Some(ReviewStatus::Rejected),
            _ => None,
        }
    }
}

impl From<ReviewStatus> for RecordStatus {
    fn from(decision: ReviewStatus) -> Self {
        match decision {
            ReviewStatus::Approved => RecordStatus::Approved,
            ReviewStatus::Rejected => RecordStatus::Rejected,
        }
    }
}

/// A reviewer's decision on a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReviewStatus {
    /// Accepted into the corpus.
    Approved,
    /// Turned down.
    Rejected,
}

impl ReviewStatus {
    /// The stored text.
    pub fn as_str(self) -> &'static str {
        match self {
            ReviewStatus::Approved => "approved",
            ReviewStatus::Rejected => "rejected",
        }
    }

    /// Parses a stored text (exact).
    pub fn parse(text: &str) -> Option<Self> {
        [ReviewStatus::Approved, ReviewStatus::Rejected].into_iter().find(|s| s.as_str() == text)
    }
}

impl fmt::Display for RecordStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for ReviewStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for RecordStatus {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Any string is a status (lengths are the request's rules to check).
impl<'de> Deserialize<'de> for RecordStatus {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(RecordStatus::from_text)
    }
}

impl Serialize for ReviewStatus {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Both are stored as text (`varchar`) and bound as text.
macro_rules! text_column {
    ($ty:ty) => {
        impl Type<Postgres> for $ty {
            fn type_info() -> PgTypeInfo {
                <&str as Type<Postgres>>::type_info()
            }

            fn compatible(ty: &PgTypeInfo) -> bool {
                <&str as Type<Postgres>>::compatible(ty)
            }
        }

        impl Encode<'_, Postgres> for $ty {
            fn encode_by_ref(&self, buf: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
                <&str as Encode<'_, Postgres>>::encode_by_ref(&self.as_str(), buf)
            }
        }
    };
}

text_column!(RecordStatus);
text_column!(ReviewStatus);

impl<'r> Decode<'r, Postgres> for RecordStatus {
    fn decode(value: PgValueRef<'r>) -> Result<Self, BoxDynError> {
        <&str as Decode<'r, Postgres>>::decode(value).map(RecordStatus::from_text)
    }
}

impl<'r> Decode<'r, Postgres> for ReviewStatus {
    fn decode(value: PgValueRef<'r>) -> Result<Self, BoxDynError> {
        let text = <&str as Decode<'r, Postgres>>::decode(value)?;
        ReviewStatus::parse(text)
            .ok_or_else(|| format!("unknown review status {text:?} in record.review_status").into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_read_back_exactly_as_stored() {
        for known in RecordStatus::KNOWN {
            assert_eq!(RecordStatus::from_text(known.as_str()), known);
        }
        assert_eq!(RecordStatus::from_text("generation_failed"), RecordStatus::GenerationFailed);
        // Anything else is kept verbatim, case and length included: never relabelled.
        for other in ["Pending", "in review", "failed", "", "a status far longer than twenty characters"] {
            let status = RecordStatus::from_text(other);
            assert_eq!(status, RecordStatus::Other(other.to_owned()));
            assert_eq!(status.as_str(), other);
            assert_eq!(serde_json::to_value(&status).unwrap(), serde_json::json!(other));
        }
        let sent: RecordStatus = serde_json::from_str(r#""approved""#).unwrap();
        assert_eq!(
            (sent.decision(), RecordStatus::from(ReviewStatus::Rejected)),
            (Some(ReviewStatus::Approved), RecordStatus::Rejected)
        );
        assert_eq!(RecordStatus::from_text("checked").decision(), None);
    }

    #[test]
    fn review_statuses_are_only_the_two_decisions() {
        assert_eq!(ReviewStatus::parse("approved"), Some(ReviewStatus::Approved));
        assert_eq!(ReviewStatus::parse("rejected"), Some(ReviewStatus::Rejected));
        assert_eq!(ReviewStatus::parse("Approved"), None);
        assert_eq!(ReviewStatus::parse("pending"), None);
    }
}
