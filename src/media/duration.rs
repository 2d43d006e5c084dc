//! Playing time of audio and video files, in two trust zones:
//!
//! - Containers (ISO media: MP4, M4A, MOV; Matroska: MKV, WebM) are timed by our own bounded
//!   parsers ([`container_seconds`]), which never allocate by a size the file claims and answer
//!   "unknown" rather than hand the file to anything else.
//! - Plain audio streams (MP3, WAV, Ogg/Opus, FLAC, ADTS AAC) are timed by symphonia's demuxers
//!   ([`decoder_seconds`]): the stream header's frame count, or a bounded scan over packet
//!   timestamps (no decoding). Symphonia may allocate what a header claims, which a crafted file
//!   can make abort the process, so the service only runs it in a child process with a memory cap
//!   and a time limit (see `media::probe`).

use std::fs::File;
use std::io::BufReader;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::time::{Duration, Instant};

use symphonia::core::formats::FormatOptions;
use symphonia::core::io::{MediaSourceStream, MediaSourceStreamOptions};
use symphonia::core::meta::MetadataOptions;
use symphonia::core::probe::Hint;
use symphonia::core::units::TimeBase;

use super::{Sniffed, isobmff, matroska, sniff};

/// Bounds the packet scan: about 14 hours of MP3 frames, or a few hours of video plus audio.
const MAX_SCAN_PACKETS: u64 = 2_000_000;
const MAX_SCAN_TIME: Duration = Duration::from_secs(15);

/// Who may time a format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timer {
    /// Our own bounded container parsers, safe in the server process.
    Container,
    /// Symphonia's demuxers, only in a capped child process.
    Decoder,
    /// Nothing: images, text, and formats we cannot time (AVI, whose header frame count is often
    /// wrong anyway).
    Untimed,
}

/// ISO base media formats, timed by [`isobmff`].
const ISOBMFF_FORMATS: [Sniffed; 4] = [sniff::MP4, sniff::M4V, sniff::MOV, sniff::M4A];
/// Matroska formats, timed by [`matroska`].
const MATROSKA_FORMATS: [Sniffed; 2] = [sniff::MKV, sniff::WEBM];

/// Which [`Timer`] a sniffed format gets.
pub fn timer(sniffed: &Sniffed) -> Timer {
    if ISOBMFF_FORMATS.contains(sniffed) || MATROSKA_FORMATS.contains(sniffed) {
        Timer::Container
    } else if DECODER_FORMATS.contains(sniffed) {
        Timer::Decoder
    } else {
        Timer::Untimed
    }
}

/// The formats [`decoder_seconds`] handles.
pub const DECODER_FORMATS: [Sniffed; 6] = [sniff::MP3, sniff::WAV, sniff::OGG, sniff::OPUS, sniff::FLAC, sniff::AAC];

/// Seconds of a container file by our own parsers; `None` when unknown or not a container.
pub fn container_seconds(path: &Path, sniffed: &Sniffed) -> Option<f64> {
    let file = File::open(path).ok()?;
    if ISOBMFF_FORMATS.contains(sniffed) {
        isobmff::duration(&mut BufReader::new(file))
    } else if MATROSKA_FORMATS.contains(sniffed) {
        matroska::duration(file)
    } else {
        None
    }
}

/// Seconds of a plain audio stream by symphonia; `None` when unknown or unreadable.
///
/// **Only for a capped child process** (or trusted files): a crafted header can make symphonia
/// allocate what it claims, which aborts the process and cannot be caught.
pub fn decoder_seconds(path: &Path, sniffed: &Sniffed) -> Option<f64> {
    if !DECODER_FORMATS.contains(sniffed) {
        return None;
    }
    // A panic in the demuxer costs a duration, not the child's answer.
    catch_unwind(AssertUnwindSafe(|| with_symphonia(path, sniffed))).ok().flatten()
}

/// Whole seconds (truncated: 3.7 s gives 3) from a parser's answer, if it is a real duration.
pub fn whole_seconds(seconds: Option<f64>) -> Option<i32> {
    let seconds = seconds.filter(|s| s.is_finite() && *s >= 0.0)?;
    // More seconds than an i32 holds (68 years) is a corrupt header, not a recording.
    let whole = seconds.trunc();
    (whole <= f64::from(i32::MAX)).then_some(whole as i32)
}

fn with_symphonia(path: &Path, sniffed: &Sniffed) -> Option<f64> {
    let source = MediaSourceStream::new(Box::new(File::open(path).ok()?), MediaSourceStreamOptions::default());
    let mut hint = Hint::new();
    hint.with_extension(sniffed.extension.trim_start_matches('.'));
    hint.mime_type(sniffed.mime);
    let probed = symphonia::default::get_probe()
        .format(&hint, source, &FormatOptions::default(), &MetadataOptions::default())
        .ok()?;
    let mut format = probed.format;

    let time_base = |params: &symphonia::core::codecs::CodecParameters| {
        params.time_base.or_else(|| params.sample_rate.filter(|r| *r > 0).map(|r| TimeBase::new(1, r)))
    };
    let to_seconds = |tb: TimeBase, ts: u64| {
        let t = tb.calc_time(ts);
        t.seconds as f64 + t.frac
    };

    let from_headers = format
        .tracks()
        .iter()
        .filter_map(|t| Some(to_seconds(time_base(&t.codec_params)?, t.codec_params.n_frames?)))
        .fold(None, |max: Option<f64>, s| Some(max.map_or(s, |m| m.max(s))));
    if from_headers.is_some_and(|s| s > 0.0) {
        return from_headers;
    }

    let time_bases: Vec<(u32, TimeBase)> =
        format.tracks().iter().filter_map(|t| Some((t.id, time_base(&t.codec_params)?))).collect();
    let started = Instant::now();
    let mut end = 0.0f64;
    for _ in 0..MAX_SCAN_PACKETS {
        // Any error, including the expected end-of-stream one, ends the scan with what was read.
        let Ok(packet) = format.next_packet() else { break };
        if let Some((_, tb)) = time_bases.iter().find(|(id, _)| *id == packet.track_id()) {
            end = end.max(to_seconds(*tb, packet.ts().saturating_add(packet.dur())));
        }
        if started.elapsed() > MAX_SCAN_TIME {
            return None;
        }
    }
    (end > 0.0).then_some(end)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::sniff;
    use crate::media::tests::fixture;

    /// Both timers in this process, as the probe composes them (the fixtures are trusted).
    fn duration_seconds(path: &Path, sniffed: &Sniffed) -> Option<i32> {
        whole_seconds(match timer(sniffed) {
            Timer::Container => container_seconds(path, sniffed),
            Timer::Decoder => decoder_seconds(path, sniffed),
            Timer::Untimed => None,
        })
    }

    fn sniffed(path: &Path) -> Sniffed {
        let bytes = std::fs::read(path).unwrap();
        sniff(&bytes[..bytes.len().min(8192)]).unwrap()
    }

    /// ffprobe's `format=duration` for each fixture (see tests/fixtures/media/README.md).
    const FFPROBE: &[(&str, f64)] = &[
        ("cbr.mp3", 3.552653),
        ("vbr.mp3", 4.675918),
        ("noxing.mp3", 2.769000),
        ("tone.wav", 4.250000),
        ("tone.ogg", 3.500000),
        ("tone.opus", 3.506500),
        ("tone.m4a", 3.500000),
        ("tone.aac", 2.527976),
        ("tone.flac", 3.500000),
        ("audio.webm", 3.508000),
        ("clip.mp4", 2.600000),
        ("clip.mov", 3.600000),
        ("clip.mkv", 2.612000),
        ("clip.webm", 4.607000),
    ];

    /// Streamed WebM (as browsers' `MediaRecorder` writes it) has no duration in its header and
    /// ffprobe says N/A; these are the lengths `ffmpeg -i FILE -f null -` reports after decoding.
    /// They exercise the packet scan.
    const DECODED: &[(&str, f64)] = &[("live-audio.webm", 3.50), ("live-clip.webm", 2.60)];

    #[test]
    fn media_durations_match_ffprobe_truncated() {
        for (name, ffprobe) in FFPROBE.iter().chain(DECODED) {
            let path = fixture(name);
            let got = duration_seconds(&path, &sniffed(&path));
            assert_eq!(got, Some(ffprobe.trunc() as i32), "{name}: ffprobe says {ffprobe}");
        }
    }

    #[test]
    fn media_duration_is_none_for_avi_images_text_and_missing_files() {
        for name in ["clip.avi", "pic.png", "pic.jpg", "telugu.txt"] {
            let path = fixture(name);
            assert_eq!(duration_seconds(&path, &sniffed(&path)), None, "{name}");
        }
        assert_eq!(duration_seconds(Path::new("/nonexistent/file.mp3"), &sniff::MP3), None);
    }

    /// Every fixture cut to its first 1 KiB and to half its length, and garbage dressed up as
    /// each format: no panic, no hang, and any answer no longer than the whole file's.
    #[test]
    fn media_duration_of_truncated_or_garbage_files_is_none_or_sane() {
        let dir = tempfile::tempdir().unwrap();
        for (name, ffprobe) in FFPROBE.iter().chain(DECODED) {
            let bytes = std::fs::read(fixture(name)).unwrap();
            let kind = sniffed(&fixture(name));
            for len in [0, 16, 1024, bytes.len() / 2] {
                let cut = dir.path().join(format!("cut-{len}-{name}"));
                std::fs::write(&cut, &bytes[..len]).unwrap();
                if let Some(d) = duration_seconds(&cut, &kind) {
                    assert!((0..=ffprobe.ceil() as i32).contains(&d), "{name} cut to {len}: {d}");
                }
            }
            let mut garbage = bytes[..64.min(bytes.len())].to_vec();
            garbage.extend((0..20_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8));
            let fake = dir.path().join(format!("garbage-{name}"));
            std::fs::write(&fake, &garbage).unwrap();
            let _ = duration_seconds(&fake, &kind);
        }
    }

    #[test]
    fn media_first_kib_of_mp4_gives_none() {
        let bytes = std::fs::read(fixture("clip.mp4")).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let cut = dir.path().join("cut.mp4");
        std::fs::write(&cut, &bytes[..1024]).unwrap();
        assert_eq!(duration_seconds(&cut, &sniff::MP4), None);
    }
}
