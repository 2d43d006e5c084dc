//! Content sniffing: `infer` for binary formats, a frame-sync check for MP3 without an ID3 tag,
//! our own UTF-8 check for plain text (which `infer` does not report), and [`super::document`]
//! for office documents.

use super::{Sniffed, document};
use crate::domain::MediaType;

const fn s(mime: &'static str, extension: &'static str, kind: MediaType) -> Sniffed {
    Sniffed { mime, extension, kind }
}

pub(super) const MP3: Sniffed = s("audio/mpeg", ".mp3", MediaType::Audio);
pub(super) const WAV: Sniffed = s("audio/wav", ".wav", MediaType::Audio);
pub(super) const OGG: Sniffed = s("audio/ogg", ".ogg", MediaType::Audio);
pub(super) const OPUS: Sniffed = s("audio/opus", ".opus", MediaType::Audio);
pub(super) const M4A: Sniffed = s("audio/mp4", ".m4a", MediaType::Audio);
pub(super) const AAC: Sniffed = s("audio/aac", ".aac", MediaType::Audio);
pub(super) const FLAC: Sniffed = s("audio/flac", ".flac", MediaType::Audio);
pub(super) const MP4: Sniffed = s("video/mp4", ".mp4", MediaType::Video);
pub(super) const M4V: Sniffed = s("video/x-m4v", ".m4v", MediaType::Video);
pub(super) const MOV: Sniffed = s("video/quicktime", ".mov", MediaType::Video);
pub(super) const MKV: Sniffed = s("video/x-matroska", ".mkv", MediaType::Video);
pub(super) const WEBM: Sniffed = s("video/webm", ".webm", MediaType::Video);
pub(super) const AVI: Sniffed = s("video/x-msvideo", ".avi", MediaType::Video);
const JPEG: Sniffed = s("image/jpeg", ".jpg", MediaType::Image);
const PNG: Sniffed = s("image/png", ".png", MediaType::Image);
const GIF: Sniffed = s("image/gif", ".gif", MediaType::Image);
const WEBP: Sniffed = s("image/webp", ".webp", MediaType::Image);
const HEIC: Sniffed = s("image/heic", ".heic", MediaType::Image);
const AVIF: Sniffed = s("image/avif", ".avif", MediaType::Image);
const TEXT: Sniffed = s("text/plain; charset=utf-8", ".txt", MediaType::Text);

/// Sniffs what a file is from its first bytes (callers pass up to the first 8 KiB, or the whole
/// file if smaller). `None` for empty input and for anything we do not accept (executables,
/// archives, unsupported media, non-UTF-8 text, ...). Some office documents can only be told
/// apart with bytes from further into the file: [`super::sniff_file`] reads those.
pub fn sniff(prefix: &[u8]) -> Option<Sniffed> {
    if prefix.is_empty() {
        return None;
    }
    // Zips and compound files are office documents or refused, never tried as anything else.
    if let Some(decided) = document::detect(prefix, &[]) {
        return decided;
    }
    if let Some(t) = infer::get(prefix) {
        let known = match t.mime_type() {
            "audio/mpeg" => Some(MP3),
            "audio/x-wav" => Some(WAV),
            "audio/ogg" => Some(OGG),
            "audio/opus" => Some(OPUS),
            "audio/m4a" => Some(M4A),
            "audio/aac" => Some(AAC),
            "audio/x-flac" => Some(FLAC),
            "video/mp4" => Some(MP4),
            "video/x-m4v" => Some(M4V),
            "video/quicktime" => Some(MOV),
            "video/x-matroska" | "video/webm" => Some(matroska_or_webm(prefix)),
            "video/x-msvideo" => Some(AVI),
            "image/jpeg" => Some(JPEG),
            "image/png" => Some(PNG),
            "image/gif" => Some(GIF),
            "image/webp" => Some(WEBP),
            "image/heif" => Some(HEIC),
            "image/avif" => Some(AVIF),
            "application/pdf" => Some(document::PDF),
            _ => None,
        };
        // infer's text matchers (HTML, XML, shell scripts) are still plain text to us; any other
        // type it knows but we do not accept is refused outright rather than tried as text.
        if known.is_some() || t.matcher_type() != infer::MatcherType::Text {
            return known;
        }
    }
    if is_mp3_frame_start(prefix) {
        return Some(MP3);
    }
    is_utf8_text(prefix).then_some(TEXT)
}

/// infer only finds "matroska" at the offset one muxer writes it at and calls every other EBML
/// file WebM, so read the EBML header's DocType ourselves.
fn matroska_or_webm(prefix: &[u8]) -> Sniffed {
    let header = &prefix[..prefix.len().min(64)];
    // DocType is element 0x4282 with (in practice) a 1-byte size, 0x80 | length.
    let doc_type = header.windows(3).position(|w| w[0] == 0x42 && w[1] == 0x82 && w[2] & 0x80 != 0).and_then(|at| {
        let len = usize::from(header[at + 2] & 0x7F);
        header.get(at + 3..at + 3 + len)
    });
    match doc_type {
        Some(b"webm") => WEBM,
        _ => MKV,
    }
}

/// Containers that a phone or browser may use for a voice recording as well as for a video.
pub(super) fn is_audio_capable_container(sniffed: &Sniffed) -> bool {
    [MP4, WEBM, MKV].contains(sniffed)
}

/// An MPEG audio layer III frame header at the very start (infer only knows MP3 with an ID3 tag
/// or MPEG-1 without CRC, which misses e.g. 22 kHz MPEG-2 files).
fn is_mp3_frame_start(b: &[u8]) -> bool {
    if b.len() < 4 || b[0] != 0xFF || b[1] & 0xE0 != 0xE0 {
        return false;
    }
    let version = (b[1] >> 3) & 0b11;
    let layer = (b[1] >> 1) & 0b11;
    let bitrate = b[2] >> 4;
    let sample_rate = (b[2] >> 2) & 0b11;
    version != 0b01 && layer == 0b01 && bitrate != 0 && bitrate != 0b1111 && sample_rate != 0b11
}

/// Valid UTF-8 (allowing a character cut by the end of the prefix) without control characters
/// other than tab, line feed, form feed and carriage return, which binary formats are full of.
fn is_utf8_text(prefix: &[u8]) -> bool {
    let text = match std::str::from_utf8(prefix) {
        Ok(text) => text,
        // error_len() == None: the input ends in the middle of a character, which at most 3 bytes
        // can be.
        Err(e) if e.error_len().is_none() && prefix.len() - e.valid_up_to() < 4 => {
            std::str::from_utf8(&prefix[..e.valid_up_to()]).unwrap_or_default()
        }
        Err(_) => return false,
    };
    !text.is_empty() && !text.chars().any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r' | '\x0c'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::tests::fixture;

    fn sniff_file(name: &str) -> Option<Sniffed> {
        let bytes = std::fs::read(fixture(name)).unwrap();
        sniff(&bytes[..bytes.len().min(8192)])
    }

    #[test]
    fn fixtures_sniff_as_their_real_type() {
        for (name, kind, ext) in [
            ("cbr.mp3", MediaType::Audio, ".mp3"),
            ("vbr.mp3", MediaType::Audio, ".mp3"),
            ("noxing.mp3", MediaType::Audio, ".mp3"),
            ("tone.wav", MediaType::Audio, ".wav"),
            ("tone.ogg", MediaType::Audio, ".ogg"),
            ("tone.opus", MediaType::Audio, ".opus"),
            ("tone.m4a", MediaType::Audio, ".m4a"),
            ("tone.aac", MediaType::Audio, ".aac"),
            ("tone.flac", MediaType::Audio, ".flac"),
            ("audio.webm", MediaType::Video, ".webm"),
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
            ("doc.pdf", MediaType::Document, ".pdf"),
            ("doc.docx", MediaType::Document, ".docx"),
            ("doc.odt", MediaType::Document, ".odt"),
            ("doc.doc", MediaType::Document, ".doc"),
        ] {
            let s = sniff_file(name).unwrap_or_else(|| panic!("{name} not recognised"));
            assert_eq!((s.kind, s.extension), (kind, ext), "{name}");
        }
    }

    #[test]
    fn media_sniff_refuses_exe_empty_and_garbage() {
        assert_eq!(sniff_file("fake.exe"), None);
        assert_eq!(sniff(b""), None);
        assert_eq!(sniff(&[0u8; 100]), None);
        assert_eq!(sniff(&[0xFF; 3]), None);
        let garbage: Vec<u8> = (0..8192u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
        assert_eq!(sniff(&garbage), None);
        // A zip archive (infer knows it, we do not accept it), and compound files that are no
        // office document.
        assert_eq!(sniff(b"PK\x03\x04\x14\x00\x00\x00\x08\x00rest-of-it"), None);
        assert_eq!(sniff_file("plain.zip"), None);
        assert_eq!(sniff_file("other.cfb"), None);
    }

    #[test]
    fn media_text_cut_inside_a_character_is_still_text() {
        let text = "తెలుగు".as_bytes();
        // From 3: the first character (3 bytes) is whole, so there is some text to judge.
        for cut in 3..text.len() {
            assert_eq!(sniff(&text[..cut]).map(|s| s.kind), Some(MediaType::Text), "cut at {cut}");
        }
        assert_eq!(sniff("<html><body>తెలుగు</body></html>".as_bytes()), Some(TEXT));
        // Invalid in the middle, or control characters: not text.
        assert_eq!(sniff(b"abc\xFFdef"), None);
        assert_eq!(sniff(b"abc\x00def"), None);
        assert_eq!(sniff(b"abc\x01def"), None);
    }
}
