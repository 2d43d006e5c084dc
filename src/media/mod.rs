//! Facts about an uploaded file computed from its bytes: what it really is ([`sniff`]), whether it
//! may be stored as the declared media type ([`check`]), how long it plays ([`DurationProbe`],
//! which never lets untrusted bytes reach an unbounded parser in the server process) and its
//! content hash ([`ContentDigest`]).
//!
//! Every extension in this module (stored or allowed) is written with its leading dot, e.g. `.mp3`.

mod digest;
mod document;
mod duration;
mod isobmff;
mod matroska;
pub mod probe;
mod sniff;

/// The container parsers over bytes in memory, for the fuzz targets in `fuzz/` (not an API).
#[doc(hidden)]
pub mod fuzzing {
    use std::io::Cursor;

    /// [`super::isobmff`]'s duration of `bytes`.
    pub fn isobmff_seconds(bytes: &[u8]) -> Option<f64> {
        super::isobmff::duration(&mut Cursor::new(bytes))
    }

    /// [`super::matroska`]'s duration of `bytes`.
    pub fn matroska_seconds(bytes: &[u8]) -> Option<f64> {
        super::matroska::duration(Cursor::new(bytes))
    }

    /// What [`super::sniff_file`] decides for a file whose first bytes are `prefix` and whose
    /// further bytes (the zip tail or compound-file directory it reads) are `extra`.
    pub fn document(prefix: &[u8], extra: &[u8]) -> Option<Option<super::Sniffed>> {
        super::document::detect(prefix, extra)
    }
}

pub use digest::ContentDigest;
pub use probe::{DurationProbe, Measured, ProbeLimits};
pub use sniff::sniff;

use std::{io, path::Path};

use tokio::io::{AsyncReadExt, AsyncSeekExt};

use crate::domain::MediaType;

/// What the bytes really are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sniffed {
    /// The MIME type to store and serve the file under, e.g. `audio/mpeg`.
    pub mime: &'static str,
    /// The extension (with its dot) the server stores the file under, e.g. `.mp3`.
    pub extension: &'static str,
    /// The media type this format normally carries.
    pub kind: MediaType,
}

/// Why a file is refused for a declared media type; its `Display` is meant for a 415 detail.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MediaCheckError {
    /// The bytes are not any format we accept (this includes executables, archives, ...).
    #[error("the file's content is not a supported audio, video, image or document format, nor UTF-8 text")]
    Unrecognised,
    /// The bytes are a supported format, but not one allowed for the declared media type.
    #[error(
        "the file was sent as {declared} but its content is {kind} ({mime}); {declared} must be one of: {allowed}",
        kind = actual.kind,
        mime = actual.mime,
        allowed = allowed_list(*declared)
    )]
    Mismatch {
        /// The media type the client declared.
        declared: MediaType,
        /// What the bytes really are.
        actual: Sniffed,
    },
    /// The client's file name has an extension that is not allowed for the declared media type.
    #[error(
        "the file name's extension `.{extension}` is not allowed for {declared}; allowed: {allowed}",
        allowed = allowed_list(*declared)
    )]
    ExtensionNotAllowed {
        /// The media type the client declared.
        declared: MediaType,
        /// The offending extension as sent (without the dot).
        extension: String,
    },
}

fn allowed_list(media: MediaType) -> String {
    allowed_extensions(media).join(", ")
}

/// Allowed extensions (with their dot) per media type, for docs, error messages and [`check`]'s
/// file name rule.
pub fn allowed_extensions(media: MediaType) -> &'static [&'static str] {
    match media {
        MediaType::Text => &[".txt", ".text", ".md", ".csv", ".tsv", ".json"],
        MediaType::Audio => {
            &[".mp3", ".wav", ".m4a", ".aac", ".ogg", ".oga", ".opus", ".flac", ".webm", ".mp4", ".mka", ".mkv"]
        }
        MediaType::Video => &[".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi"],
        MediaType::Image => &[".jpg", ".jpeg", ".png", ".gif", ".webp", ".heic", ".heif", ".avif"],
        MediaType::Document => &[
            ".pdf", ".txt", ".text", ".md", ".csv", ".tsv", ".json", ".rtf", ".doc", ".docx", ".xls", ".xlsx", ".ppt",
            ".pptx", ".odt", ".ods", ".odp", ".odg",
        ],
    }
}

/// Sniffs a file on disk of `size` bytes whose first bytes are `prefix`: [`sniff`], plus the
/// one bounded read some office formats need beyond the prefix (a zip's central directory at
/// its end, a compound file's directory sector).
pub async fn sniff_file(path: &Path, prefix: &[u8], size: u64) -> io::Result<Option<Sniffed>> {
    if let Some(range) = document::extra_range(prefix, size) {
        let mut file = tokio::fs::File::open(path).await?;
        file.seek(io::SeekFrom::Start(range.start)).await?;
        let mut extra = Vec::with_capacity((range.end - range.start) as usize);
        file.take(range.end - range.start).read_to_end(&mut extra).await?;
        if let Some(decided) = document::detect(prefix, &extra) {
            return Ok(decided);
        }
    }
    Ok(sniff(prefix))
}

/// Checks a sniffed file against the declared media type and returns the extension (with its
/// dot) to store it under, which always comes from the sniffed type, never from the client.
///
/// Rules, in order:
/// 1. The content must be recognised ([`MediaCheckError::Unrecognised`]).
/// 2. Its kind must be the declared one; as exceptions, audio may come in the MP4, WebM or
///    Matroska containers (phones and browsers record voice into them, and the first bytes cannot
///    tell whether a picture track is present), and a document may be plain text
///    ([`MediaCheckError::Mismatch`]).
/// 3. If the client's file name has an extension, it must be one of
///    [`allowed_extensions`]`(declared)`, even when the content is fine: `photo.exe` with JPEG
///    bytes is refused ([`MediaCheckError::ExtensionNotAllowed`]). It need not match the sniffed
///    format (`voice.m4a` holding MP3 bytes is stored as `.mp3`). Only a final dot-suffix of 1–10
///    ASCII letters/digits with at least one letter counts as an extension, so names such as
///    `Recording 2024.05` or `notes v2.5` have none. Names without an extension are accepted.
pub fn check(
    declared: MediaType,
    sniffed: Option<&Sniffed>,
    client_file_name: Option<&str>,
) -> Result<&'static str, MediaCheckError> {
    let actual = sniffed.ok_or(MediaCheckError::Unrecognised)?;
    let audio_in_container = declared == MediaType::Audio && sniff::is_audio_capable_container(actual);
    let text_document = declared == MediaType::Document && actual.kind == MediaType::Text;
    if actual.kind != declared && !audio_in_container && !text_document {
        return Err(MediaCheckError::Mismatch { declared, actual: *actual });
    }
    if let Some(extension) = client_file_name.and_then(client_extension) {
        let allowed = allowed_extensions(declared).iter().any(|a| a[1..].eq_ignore_ascii_case(extension));
        if !allowed {
            return Err(MediaCheckError::ExtensionNotAllowed { declared, extension: extension.to_owned() });
        }
    }
    Ok(actual.extension)
}

/// The extension (without its dot) of a client's file name, if it has one by [`check`]'s rule.
fn client_extension(name: &str) -> Option<&str> {
    // Browsers on Windows have been known to send full paths.
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let (stem, ext) = base.rsplit_once('.')?;
    let looks_like_extension = !stem.is_empty()
        && (1..=10).contains(&ext.len())
        && ext.bytes().all(|b| b.is_ascii_alphanumeric())
        && ext.bytes().any(|b| b.is_ascii_alphabetic());
    looks_like_extension.then_some(ext)
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn fixture(name: &str) -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/media").join(name)
    }

    fn sniff_fixture(name: &str) -> Option<Sniffed> {
        let bytes = std::fs::read(fixture(name)).unwrap();
        sniff(&bytes[..bytes.len().min(8192)])
    }

    #[test]
    fn exe_declared_as_image_is_refused() {
        let s = sniff_fixture("fake.exe");
        assert_eq!(s, None);
        let err = check(MediaType::Image, s.as_ref(), Some("photo.jpg")).unwrap_err();
        assert_eq!(err, MediaCheckError::Unrecognised);
        assert!(err.to_string().contains("not a supported"));
    }

    #[test]
    fn jpeg_bytes_named_exe_are_refused() {
        let s = sniff_fixture("pic.jpg");
        let err = check(MediaType::Image, s.as_ref(), Some("photo.exe")).unwrap_err();
        assert_eq!(err, MediaCheckError::ExtensionNotAllowed { declared: MediaType::Image, extension: "exe".into() });
        assert!(err.to_string().contains(".exe"), "{err}");
        assert!(err.to_string().contains(".jpg"), "{err}");
    }

    #[test]
    fn mp3_declared_as_video_is_a_mismatch() {
        let s = sniff_fixture("cbr.mp3").unwrap();
        let err = check(MediaType::Video, Some(&s), Some("clip.mp4")).unwrap_err();
        assert_eq!(err, MediaCheckError::Mismatch { declared: MediaType::Video, actual: s });
        let msg = err.to_string();
        assert!(msg.contains("sent as video") && msg.contains("audio/mpeg"), "{msg}");
    }

    #[test]
    fn stored_extension_comes_from_the_bytes() {
        let s = sniff_fixture("cbr.mp3");
        assert_eq!(check(MediaType::Audio, s.as_ref(), Some("voice.wav")), Ok(".mp3"));
        assert_eq!(check(MediaType::Audio, s.as_ref(), Some("VOICE.MP3")), Ok(".mp3"));
        assert_eq!(check(MediaType::Audio, s.as_ref(), None), Ok(".mp3"));
        assert_eq!(check(MediaType::Audio, s.as_ref(), Some("Recording 2024.05")), Ok(".mp3"));
        assert_eq!(check(MediaType::Audio, s.as_ref(), Some("no extension")), Ok(".mp3"));
        let t = sniff_fixture("telugu.txt");
        assert_eq!(check(MediaType::Text, t.as_ref(), Some("kavitha.md")), Ok(".txt"));
        assert_eq!(check(MediaType::Text, t.as_ref(), Some("C:\\Users\\x\\kavitha.txt")), Ok(".txt"));
    }

    #[test]
    fn every_allowed_fixture_passes_its_own_type() {
        for (name, declared, ext) in [
            ("cbr.mp3", MediaType::Audio, ".mp3"),
            ("tone.wav", MediaType::Audio, ".wav"),
            ("tone.ogg", MediaType::Audio, ".ogg"),
            ("tone.opus", MediaType::Audio, ".opus"),
            ("tone.m4a", MediaType::Audio, ".m4a"),
            ("tone.aac", MediaType::Audio, ".aac"),
            ("tone.flac", MediaType::Audio, ".flac"),
            ("audio.webm", MediaType::Audio, ".webm"),
            ("live-audio.webm", MediaType::Audio, ".webm"),
            ("clip.mp4", MediaType::Audio, ".mp4"),
            ("clip.mp4", MediaType::Video, ".mp4"),
            ("clip.mov", MediaType::Video, ".mov"),
            ("clip.mkv", MediaType::Video, ".mkv"),
            ("clip.webm", MediaType::Video, ".webm"),
            ("clip.avi", MediaType::Video, ".avi"),
            ("pic.png", MediaType::Image, ".png"),
            ("pic.jpg", MediaType::Image, ".jpg"),
            ("pic.gif", MediaType::Image, ".gif"),
            ("pic.webp", MediaType::Image, ".webp"),
            ("telugu.txt", MediaType::Text, ".txt"),
            ("telugu.txt", MediaType::Document, ".txt"),
            ("doc.pdf", MediaType::Document, ".pdf"),
            ("doc.docx", MediaType::Document, ".docx"),
            ("doc.odt", MediaType::Document, ".odt"),
            ("doc.doc", MediaType::Document, ".doc"),
        ] {
            let s = sniff_fixture(name);
            assert_eq!(check(declared, s.as_ref(), Some(name)), Ok(ext), "{name} as {declared}");
        }
    }

    #[test]
    fn other_cross_type_declarations_are_mismatches() {
        for (name, declared) in [
            ("pic.png", MediaType::Audio),
            ("tone.m4a", MediaType::Video),
            ("clip.mov", MediaType::Image),
            ("telugu.txt", MediaType::Image),
            ("pic.jpg", MediaType::Text),
            ("clip.avi", MediaType::Audio),
            ("doc.pdf", MediaType::Text),
            ("doc.docx", MediaType::Image),
            ("pic.png", MediaType::Document),
            ("cbr.mp3", MediaType::Document),
        ] {
            let s = sniff_fixture(name);
            assert!(
                matches!(check(declared, s.as_ref(), None), Err(MediaCheckError::Mismatch { .. })),
                "{name} as {declared}"
            );
        }
    }

    #[tokio::test]
    async fn sniff_file_reads_what_late_office_files_need() {
        for (name, expected) in
            [("late.xlsx", Some(".xlsx")), ("late.ppt", Some(".ppt")), ("doc.docx", Some(".docx")), ("plain.zip", None)]
        {
            let path = fixture(name);
            let bytes = std::fs::read(&path).unwrap();
            let prefix = &bytes[..bytes.len().min(8192)];
            let sniffed = sniff_file(&path, prefix, bytes.len() as u64).await.unwrap();
            assert_eq!(sniffed.map(|s| s.extension), expected, "{name}");
            assert!(sniffed.is_none_or(|s| s.kind == MediaType::Document), "{name}");
        }
        // The first 8 KiB alone cannot tell the late ones.
        for name in ["late.xlsx", "late.ppt"] {
            assert_eq!(sniff(&std::fs::read(fixture(name)).unwrap()[..8192]), None, "{name}");
        }
        let err = check(MediaType::Document, None, Some("x.pdf")).unwrap_err();
        assert!(err.to_string().contains("document"), "{err}");
        let pdf = sniff_fixture("doc.pdf");
        assert!(matches!(
            check(MediaType::Document, pdf.as_ref(), Some("x.exe")),
            Err(MediaCheckError::ExtensionNotAllowed { .. })
        ));
    }

    #[test]
    fn allowed_extensions_have_dots_and_include_stored_ones() {
        for media in MediaType::ALL {
            assert!(allowed_extensions(media).iter().all(|e| e.starts_with('.') && e.len() > 1));
        }
        for name in ["cbr.mp3", "clip.mov", "pic.webp", "telugu.txt", "doc.pdf", "doc.docx", "doc.odt", "doc.doc"] {
            let s = sniff_fixture(name).unwrap();
            assert!(allowed_extensions(s.kind).contains(&s.extension), "{name}");
        }
    }
}
