//! Duration of an ISO base media file (MP4, M4A, MOV), read by our own bounded box walk: the
//! movie header `moov/mvhd`, else the fragment header `moov/mvex/mehd`, else the longest track
//! (`moov/trak/mdia/mdhd`).
//!
//! We read these few fixed-layout boxes ourselves instead of using a crate: the `mp4` crate parses
//! the whole `moov` tree and rejects many phone recordings (QuickTime-style `meta` boxes, see
//! alfg/mp4-rust#102), and a general demuxer would allocate by sizes the file claims. Here a
//! claimed size only moves a seek position, clamped to the bytes really present.

use std::io::{Read, Seek, SeekFrom};

/// Enough for any real file; stops a crafted chain of tiny boxes from taking long.
const MAX_BOXES: usize = 10_000;
/// Tracks looked at when the movie header has no duration.
const MAX_TRACKS: usize = 64;

/// The duration in seconds, or `None` when absent, zero, unknown or unreadable.
pub(super) fn duration<R: Read + Seek>(r: &mut R) -> Option<f64> {
    let file_len = r.seek(SeekFrom::End(0)).ok()?;
    let moov = find_box(r, 0, file_len, b"moov")?;
    let movie = find_box(r, moov.0, moov.1, b"mvhd").and_then(|mvhd| header_time(r, mvhd.0));
    if let Some((timescale, ticks)) = movie
        && let Some(seconds) = seconds(timescale, ticks)
    {
        return Some(seconds);
    }
    // Fragmented files may leave the movie duration at 0 and state the whole length in `mehd`.
    if let Some((timescale, _)) = movie
        && let Some(ticks) = fragment_duration(r, moov)
        && let Some(seconds) = seconds(timescale, ticks)
    {
        return Some(seconds);
    }
    let mut longest: Option<f64> = None;
    for trak in boxes(r, moov.0, moov.1, b"trak", MAX_TRACKS) {
        let track = find_box(r, trak.0, trak.1, b"mdia")
            .and_then(|mdia| find_box(r, mdia.0, mdia.1, b"mdhd"))
            .and_then(|mdhd| header_time(r, mdhd.0))
            .and_then(|(timescale, ticks)| seconds(timescale, ticks));
        longest = match (longest, track) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
    }
    longest
}

fn seconds(timescale: u32, ticks: u64) -> Option<f64> {
    (timescale != 0 && ticks != 0 && ticks != u64::MAX).then(|| ticks as f64 / f64::from(timescale))
}

/// (timescale, duration) of a `mvhd` or `mdhd` payload at `at` (both share this layout).
fn header_time<R: Read + Seek>(r: &mut R, at: u64) -> Option<(u32, u64)> {
    r.seek(SeekFrom::Start(at)).ok()?;
    let mut version_flags = [0u8; 4];
    r.read_exact(&mut version_flags).ok()?;
    if version_flags[0] == 1 {
        let mut b = [0u8; 28];
        r.read_exact(&mut b).ok()?;
        Some((u32_at(&b, 16), u64::from_be_bytes(b[20..28].try_into().ok()?)))
    } else {
        let mut b = [0u8; 16];
        r.read_exact(&mut b).ok()?;
        let d = u32_at(&b, 12);
        // All ones means "unknown" in a version 0 header.
        Some((u32_at(&b, 8), if d == u32::MAX { 0 } else { u64::from(d) }))
    }
}

/// `moov/mvex/mehd`'s fragment duration, in movie timescale ticks.
fn fragment_duration<R: Read + Seek>(r: &mut R, moov: (u64, u64)) -> Option<u64> {
    let mvex = find_box(r, moov.0, moov.1, b"mvex")?;
    let mehd = find_box(r, mvex.0, mvex.1, b"mehd")?;
    r.seek(SeekFrom::Start(mehd.0)).ok()?;
    let mut version_flags = [0u8; 4];
    r.read_exact(&mut version_flags).ok()?;
    if version_flags[0] == 1 {
        let mut b = [0u8; 8];
        r.read_exact(&mut b).ok()?;
        Some(u64::from_be_bytes(b))
    } else {
        let mut b = [0u8; 4];
        r.read_exact(&mut b).ok()?;
        Some(u64::from(u32::from_be_bytes(b)))
    }
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Finds the first child box `kind` among the boxes in `[start, end)`; its payload range.
fn find_box<R: Read + Seek>(r: &mut R, start: u64, end: u64, kind: &[u8; 4]) -> Option<(u64, u64)> {
    boxes(r, start, end, kind, 1).into_iter().next()
}

/// The payload ranges of up to `limit` child boxes `kind` among the boxes in `[start, end)`.
fn boxes<R: Read + Seek>(r: &mut R, start: u64, end: u64, kind: &[u8; 4], limit: usize) -> Vec<(u64, u64)> {
    let mut found = Vec::new();
    let mut pos = start;
    for _ in 0..MAX_BOXES {
        let Some((box_kind, payload, box_end)) = box_at(r, pos, end) else { break };
        if &box_kind == kind {
            found.push((payload, box_end));
            if found.len() >= limit {
                break;
            }
        }
        pos = box_end;
    }
    found
}

/// The box at `pos` within a parent ending at `end`: (type, payload start, end clamped to the
/// parent).
fn box_at<R: Read + Seek>(r: &mut R, pos: u64, end: u64) -> Option<([u8; 4], u64, u64)> {
    if pos.checked_add(8)? > end {
        return None;
    }
    r.seek(SeekFrom::Start(pos)).ok()?;
    let mut header = [0u8; 8];
    r.read_exact(&mut header).ok()?;
    let (size, header_len) = match u32_at(&header, 0) {
        // 64-bit size follows the type.
        1 => {
            let mut large = [0u8; 8];
            r.read_exact(&mut large).ok()?;
            (u64::from_be_bytes(large), 16)
        }
        // The box runs to the end of its parent.
        0 => (end - pos, 8),
        n => (u64::from(n), 8),
    };
    if size < header_len || pos + header_len > end {
        return None;
    }
    // A box announced longer than what holds it is a truncated file; still read what is there.
    let box_end = pos.saturating_add(size).min(end);
    Some((header[4..8].try_into().ok()?, pos + header_len, box_end))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn mvhd_file(version: u8, timescale: u32, duration: u64) -> Vec<u8> {
        let mut mvhd = vec![version, 0, 0, 0];
        if version == 1 {
            mvhd.extend([0u8; 16]);
            mvhd.extend(timescale.to_be_bytes());
            mvhd.extend(duration.to_be_bytes());
        } else {
            mvhd.extend([0u8; 8]);
            mvhd.extend(timescale.to_be_bytes());
            mvhd.extend((duration as u32).to_be_bytes());
        }
        mvhd.extend([0u8; 80]);
        let boxed = |kind: &[u8; 4], payload: &[u8]| {
            let mut b = ((payload.len() + 8) as u32).to_be_bytes().to_vec();
            b.extend(kind);
            b.extend(payload);
            b
        };
        let mut file = boxed(b"ftyp", b"isom\0\0\x02\0isomiso2");
        file.extend(boxed(b"free", &[]));
        file.extend(boxed(b"mdat", &[0xAB; 300]));
        file.extend(boxed(b"moov", &boxed(b"mvhd", &mvhd)));
        file
    }

    #[test]
    fn media_mvhd_versions_0_and_1() {
        assert_eq!(duration(&mut Cursor::new(mvhd_file(0, 1000, 3700))), Some(3.7));
        assert_eq!(duration(&mut Cursor::new(mvhd_file(1, 48_000, 168_000))), Some(3.5));
        assert_eq!(duration(&mut Cursor::new(mvhd_file(0, 0, 3700))), None);
        assert_eq!(duration(&mut Cursor::new(mvhd_file(0, 1000, 0))), None);
    }

    fn boxed(kind: &[u8; 4], payload: &[u8]) -> Vec<u8> {
        let mut b = ((payload.len() + 8) as u32).to_be_bytes().to_vec();
        b.extend(kind);
        b.extend(payload);
        b
    }

    /// A box with a 64-bit size field claiming `claimed` bytes.
    fn large(kind: &[u8; 4], claimed: u64, payload: &[u8]) -> Vec<u8> {
        let mut b = 1u32.to_be_bytes().to_vec();
        b.extend(kind);
        b.extend(claimed.to_be_bytes());
        b.extend(payload);
        b
    }

    #[test]
    fn media_without_mvhd_the_longest_track_tells() {
        let mdhd = |timescale: u32, ticks: u32| {
            let mut p = vec![0u8; 12];
            p.extend(timescale.to_be_bytes());
            p.extend(ticks.to_be_bytes());
            p.extend([0u8; 4]);
            boxed(b"trak", &boxed(b"mdia", &boxed(b"mdhd", &p)))
        };
        let mut moov = mdhd(1000, 2500);
        moov.extend(mdhd(44_100, 44_100 * 3));
        let mut file = boxed(b"ftyp", b"M4A \0\0\0\0");
        file.extend(boxed(b"moov", &moov));
        assert_eq!(duration(&mut Cursor::new(file)), Some(3.0));
    }

    /// The crash file of the hardening issue: moov/trak/mdia/hdlr with 64-bit sizes, hdlr claiming
    /// 2^50 bytes, and no mvhd. The claims only move a seek position; the answer is "unknown".
    #[test]
    fn media_huge_claimed_box_sizes_are_unknown_not_allocated() {
        let hdlr = large(b"hdlr", 1 << 50, &[0u8; 32]);
        let mdia = large(b"mdia", 1 << 51, &hdlr);
        let trak = large(b"trak", 1 << 52, &mdia);
        let mut file = boxed(b"ftyp", b"M4A \0\0\0\0M4A mp42isom");
        file.extend(large(b"moov", 1 << 53, &trak));
        assert_eq!(duration(&mut Cursor::new(file)), None);
    }

    #[test]
    fn media_mvhd_never_panics_on_any_truncation() {
        let file = mvhd_file(0, 1000, 3700);
        for len in 0..file.len() {
            let _ = duration(&mut Cursor::new(&file[..len]));
        }
    }
}
