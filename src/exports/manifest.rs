//! The manifest of a dataset export: one row per exported record, written as JSON Lines
//! (`manifest.jsonl`) and CSV (`manifest.csv`), line by line as the records are archived.

use serde::Serialize;
use uuid::Uuid;

use crate::{db::exports::ExportRow, domain::Location};

/// The CSV columns, in order (the JSON Lines rows have the same fields, `location` as an object).
pub const CSV_HEADER: [&str; 14] = [
    "id",
    "path",
    "sha256",
    "size",
    "duration_seconds",
    "mime_type",
    "media_type",
    "language",
    "category",
    "latitude",
    "longitude",
    "release_rights",
    "review_status",
    "created_at",
];

/// One manifest row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ManifestRow {
    /// Record id.
    pub id: Uuid,
    /// Path of its file in the archive; `None` for a record without a file.
    pub path: Option<String>,
    /// SHA-256 of the archived file (checked against the record while archiving).
    pub sha256: Option<String>,
    /// Bytes of the archived file.
    pub size: Option<i64>,
    /// Whole seconds of audio or video.
    pub duration_seconds: Option<i32>,
    /// MIME type.
    pub mime_type: Option<String>,
    /// Media type.
    pub media_type: String,
    /// Language.
    pub language: Option<String>,
    /// Category name.
    pub category: String,
    /// Where it was recorded.
    pub location: Option<Location>,
    /// Release rights.
    pub release_rights: Option<String>,
    /// `unreviewed`, `approved`, `rejected` or `reviewed`.
    pub review_status: String,
    /// Creation time (RFC 3339, UTC).
    pub created_at: String,
}

/// Path of a record's file inside the archive: `media/<media_type>/<record id><ext>`, the
/// extension taken from the object key when it is a short plain one. Built from the id, never
/// from a stored name, so no entry can escape the archive's root or collide with another.
pub fn archive_path(row: &ExportRow) -> String {
    let ext = row
        .object_key
        .as_deref()
        .and_then(|key| key.rsplit('/').next())
        .and_then(|name| name.rsplit_once('.').map(|(_, ext)| ext))
        .filter(|ext| !ext.is_empty() && ext.len() <= 10 && ext.bytes().all(|b| b.is_ascii_alphanumeric()))
        .map(|ext| format!(".{}", ext.to_ascii_lowercase()))
        .unwrap_or_default();
    format!("media/{}/{}{ext}", row.media_type.as_str(), row.uid)
}

impl ManifestRow {
    /// The row of `record`, whose file (if any) is archived at `path`.
    pub fn new(record: &ExportRow, path: Option<String>) -> Self {
        let has_file = path.is_some();
        ManifestRow {
            id: record.uid,
            path,
            sha256: record.content_sha256.clone().filter(|_| has_file),
            size: record.file_size.filter(|_| has_file),
            duration_seconds: record.duration_seconds,
            mime_type: record.mime_type.clone(),
            media_type: record.media_type.as_str().to_owned(),
            language: record.language.clone(),
            category: record.category.clone(),
            location: match (record.latitude, record.longitude) {
                (Some(latitude), Some(longitude)) => Some(Location { latitude, longitude }),
                _ => None,
            },
            release_rights: record.release_rights.clone(),
            review_status: record.review_status.clone(),
            created_at: crate::domain::time::format_utc(&record.created_at),
        }
    }

    /// The row as one JSON line (with its newline).
    pub fn json_line(&self) -> Vec<u8> {
        let mut line = serde_json::to_vec(self).expect("a manifest row always serialises");
        line.push(b'\n');
        line
    }

    /// The row as one CSV record (with its line end), columns as [`CSV_HEADER`].
    pub fn csv_line(&self) -> Vec<u8> {
        let opt = |v: Option<String>| v.unwrap_or_default();
        let fields = [
            self.id.to_string(),
            opt(self.path.clone()),
            opt(self.sha256.clone()),
            opt(self.size.map(|v| v.to_string())),
            opt(self.duration_seconds.map(|v| v.to_string())),
            opt(self.mime_type.clone()),
            self.media_type.clone(),
            opt(self.language.clone()),
            self.category.clone(),
            opt(self.location.map(|l| l.latitude.to_string())),
            opt(self.location.map(|l| l.longitude.to_string())),
            opt(self.release_rights.clone()),
            self.review_status.clone(),
            self.created_at.clone(),
        ];
        csv_record(&fields)
    }
}

/// The CSV header line.
pub fn csv_header() -> Vec<u8> {
    csv_record(&CSV_HEADER)
}

fn csv_record<S: AsRef<[u8]>>(fields: &[S]) -> Vec<u8> {
    let mut writer = csv::WriterBuilder::new().terminator(csv::Terminator::CRLF).from_writer(Vec::new());
    writer.write_record(fields).expect("writing to memory cannot fail");
    writer.into_inner().expect("writing to memory cannot fail")
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::domain::MediaType;

    fn row(key: Option<&str>) -> ExportRow {
        ExportRow {
            uid: Uuid::nil(),
            media_type: MediaType::Audio,
            object_key: key.map(str::to_owned),
            content_sha256: Some("ab".repeat(32)),
            file_size: Some(12),
            duration_seconds: Some(3),
            mime_type: Some("audio/ogg".into()),
            language: Some("te".into()),
            category: "పాటలు, \"జానపద\"".into(),
            latitude: Some(17.5),
            longitude: Some(78.25),
            release_rights: None,
            review_status: "approved".into(),
            created_at: Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap(),
        }
    }

    use chrono::Utc;

    #[test]
    fn archive_paths_come_from_the_id_and_a_plain_extension() {
        let id = Uuid::nil();
        assert_eq!(archive_path(&row(Some("audio/x.OGG"))), format!("media/audio/{id}.ogg"));
        assert_eq!(archive_path(&row(Some("audio/../../etc/passwd"))), format!("media/audio/{id}"));
        assert_eq!(archive_path(&row(Some("audio/a.b/c"))), format!("media/audio/{id}"));
        assert_eq!(archive_path(&row(Some("audio/x.tar;rm"))), format!("media/audio/{id}"));
    }

    #[test]
    fn rows_are_written_as_json_lines_and_quoted_csv() {
        let r = ManifestRow::new(&row(Some("audio/x.ogg")), Some("media/audio/x.ogg".into()));
        let json: serde_json::Value = serde_json::from_slice(&r.json_line()).unwrap();
        assert_eq!(json["location"]["latitude"], 17.5);
        assert_eq!(json["sha256"], "ab".repeat(32));
        assert_eq!(json["release_rights"], serde_json::Value::Null);
        let csv = String::from_utf8(r.csv_line()).unwrap();
        assert!(csv.ends_with("\r\n"));
        assert!(csv.contains("\"పాటలు, \"\"జానపద\"\"\""), "{csv}");
        let mut reader = csv::ReaderBuilder::new().has_headers(false).from_reader(csv.as_bytes());
        let record = reader.records().next().unwrap().unwrap();
        assert_eq!(record.len(), CSV_HEADER.len());
        assert_eq!(&record[8], "పాటలు, \"జానపద\"");
        // Without a file there is no path, hash or size.
        let bare = ManifestRow::new(&row(None), None);
        assert_eq!((bare.path, bare.sha256, bare.size), (None, None, None));
    }
}
