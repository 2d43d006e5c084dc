//! Duration of a Matroska or WebM file from the Segment Info element: `Duration` (a float, in
//! units of `TimestampScale` nanoseconds). Small enough to read ourselves; no crate needed.

use std::io::{Read, Seek, SeekFrom};

const SEGMENT: u32 = 0x1853_8067;
const INFO: u32 = 0x1549_A966;
const CLUSTER: u32 = 0x1F43_B675;
const TIMESTAMP_SCALE: u32 = 0x2A_D7B1;
const DURATION: u32 = 0x4489;
/// Matroska's default `TimestampScale`: milliseconds.
const DEFAULT_SCALE_NS: u64 = 1_000_000;
/// Enough for any real file's header elements; bounds the walk over a crafted file.
const MAX_ELEMENTS: usize = 10_000;

/// The Segment Info duration in seconds, or `None` when the file has none (live recordings,
/// e.g. browser `MediaRecorder` output, often don't) or is not readable.
pub(super) fn duration<R: Read + Seek>(r: &mut R) -> Option<f64> {
    let file_len = r.seek(SeekFrom::End(0)).ok()?;
    r.seek(SeekFrom::Start(0)).ok()?;
    let (segment_start, segment_end) = find(r, 0, file_len, SEGMENT, &[])?;
    let (info_start, info_end) = find(r, segment_start, segment_end, INFO, &[CLUSTER])?;

    let mut scale = DEFAULT_SCALE_NS;
    let mut duration = None;
    let mut pos = info_start;
    for _ in 0..MAX_ELEMENTS {
        if pos >= info_end {
            break;
        }
        let (id, data_start, size) = element_header(r, pos)?;
        let size = size?;
        match (id, size) {
            (TIMESTAMP_SCALE, 1..=8) => scale = read_uint(r, size)?,
            (DURATION, 4) => duration = Some(f64::from(f32::from_bits(read_uint(r, 4)? as u32))),
            (DURATION, 8) => duration = Some(f64::from_bits(read_uint(r, 8)?)),
            _ => {}
        }
        pos = data_start.checked_add(size)?;
    }
    let seconds = duration? * scale as f64 / 1e9;
    (seconds.is_finite() && seconds > 0.0).then_some(seconds)
}

/// Finds the element `want` among the elements in `[start, end)`, giving up at any of `stop`;
/// returns its data range. An unknown-size `want` runs to `end`.
fn find<R: Read + Seek>(r: &mut R, start: u64, end: u64, want: u32, stop: &[u32]) -> Option<(u64, u64)> {
    let mut pos = start;
    for _ in 0..MAX_ELEMENTS {
        if pos >= end {
            return None;
        }
        let (id, data_start, size) = element_header(r, pos)?;
        if id == want {
            let data_end = size.map_or(end, |s| data_start.saturating_add(s).min(end));
            return Some((data_start, data_end));
        }
        if stop.contains(&id) {
            return None;
        }
        // An unknown-size element other than the one we look for cannot be skipped.
        pos = data_start.checked_add(size?)?;
    }
    None
}

/// Reads an element header at `pos`: (id with its length marker, data start, size or `None`
/// for "unknown size").
fn element_header<R: Read + Seek>(r: &mut R, pos: u64) -> Option<(u32, u64, Option<u64>)> {
    r.seek(SeekFrom::Start(pos)).ok()?;
    let (id, id_len) = read_vint(r, 4)?;
    let id = (id | (1 << (7 * id_len))) as u32;
    let (size, size_len) = read_vint(r, 8)?;
    let unknown = size == (1u64 << (7 * size_len)) - 1;
    let data_start = pos + (id_len + size_len) as u64;
    Some((id, data_start, (!unknown).then_some(size)))
}

/// Reads an EBML variable-length integer of at most `max_len` bytes; returns its value without
/// the length marker, and its length.
fn read_vint<R: Read>(r: &mut R, max_len: u32) -> Option<(u64, u32)> {
    let mut first = [0u8; 1];
    r.read_exact(&mut first).ok()?;
    let len = first[0].leading_zeros() + 1;
    if len > max_len {
        return None;
    }
    let mut value = u64::from(first[0]) & ((1u64 << (8 - len)) - 1);
    let mut rest = [0u8; 7];
    let rest = &mut rest[..(len - 1) as usize];
    r.read_exact(rest).ok()?;
    for b in rest {
        value = (value << 8) | u64::from(*b);
    }
    Some((value, len))
}

fn read_uint<R: Read>(r: &mut R, size: u64) -> Option<u64> {
    let mut b = [0u8; 8];
    let b = b.get_mut(..usize::try_from(size).ok()?)?;
    r.read_exact(b).ok()?;
    Some(b.iter().fold(0u64, |v, x| (v << 8) | u64::from(*x)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn element(id: &[u8], payload: &[u8]) -> Vec<u8> {
        let mut e = id.to_vec();
        e.push(0x80 | payload.len() as u8); // 1-byte size; payloads here stay < 127 bytes
        e.extend(payload);
        e
    }

    fn file(info: &[u8], segment_unknown_size: bool) -> Vec<u8> {
        let mut f = element(&[0x1A, 0x45, 0xDF, 0xA3], &element(&[0x42, 0x82], b"webm"));
        let mut segment = element(&[0xEC], &[0; 10]); // Void
        segment.extend(element(&[0x15, 0x49, 0xA9, 0x66], info));
        segment.extend(element(&[0x1F, 0x43, 0xB6, 0x75], &[0xE7, 0x81, 0x00]));
        f.extend([0x18, 0x53, 0x80, 0x67]);
        if segment_unknown_size {
            f.push(0xFF);
        } else {
            f.extend([0x40, segment.len() as u8]);
        }
        f.extend(segment);
        f
    }

    #[test]
    fn media_matroska_duration_with_scale_and_float_sizes() {
        let mut info = element(&[0x2A, 0xD7, 0xB1], &[0x0F, 0x42, 0x40]); // 1 ms
        info.extend(element(&[0x44, 0x89], &3700.5f64.to_bits().to_be_bytes()));
        assert_eq!(duration(&mut Cursor::new(file(&info, false))), Some(3.7005));
        assert_eq!(duration(&mut Cursor::new(file(&info, true))), Some(3.7005));

        let info = element(&[0x44, 0x89], &2500f32.to_bits().to_be_bytes()); // default scale
        assert_eq!(duration(&mut Cursor::new(file(&info, false))), Some(2.5));
    }

    #[test]
    fn media_matroska_without_duration_is_none() {
        let info = element(&[0x2A, 0xD7, 0xB1], &[0x0F, 0x42, 0x40]);
        assert_eq!(duration(&mut Cursor::new(file(&info, true))), None);
        let info = element(&[0x44, 0x89], &f64::NAN.to_bits().to_be_bytes());
        assert_eq!(duration(&mut Cursor::new(file(&info, false))), None);
    }

    #[test]
    fn media_matroska_never_panics_on_any_truncation() {
        let info = element(&[0x44, 0x89], &2500f64.to_bits().to_be_bytes());
        let f = file(&info, false);
        for len in 0..f.len() {
            let _ = duration(&mut Cursor::new(&f[..len]));
        }
    }
}
