//! Duration of an ISO base media file (MP4, M4A, MOV) from the movie header box `moov/mvhd`.
//!
//! We read the one box ourselves instead of using the `mp4` crate because that crate parses the
//! whole `moov` tree and rejects many phone recordings (QuickTime-style `meta` boxes, see
//! alfg/mp4-rust#102), while `mvhd` is a fixed layout that every such file has.

use std::io::{Read, Seek, SeekFrom};

/// Enough for any real file; stops a crafted chain of tiny boxes from taking long.
const MAX_BOXES: usize = 10_000;

/// `moov/mvhd` duration as (ticks, ticks per second), or `None` when absent, zero or unknown.
pub(super) fn duration<R: Read + Seek>(r: &mut R) -> Option<(u64, u32)> {
    let file_len = r.seek(SeekFrom::End(0)).ok()?;
    let moov = find_box(r, 0, file_len, b"moov")?;
    let mvhd = find_box(r, moov.0, moov.1, b"mvhd")?;
    r.seek(SeekFrom::Start(mvhd.0)).ok()?;
    let mut version_flags = [0u8; 4];
    r.read_exact(&mut version_flags).ok()?;
    let (timescale, duration) = if version_flags[0] == 1 {
        let mut b = [0u8; 28];
        r.read_exact(&mut b).ok()?;
        (u32_at(&b, 16), u64::from_be_bytes(b[20..28].try_into().ok()?))
    } else {
        let mut b = [0u8; 16];
        r.read_exact(&mut b).ok()?;
        let d = u32_at(&b, 12);
        // All ones means "unknown" in a version 0 header.
        (u32_at(&b, 8), if d == u32::MAX { 0 } else { u64::from(d) })
    };
    // Fragmented files may leave the movie duration at 0; the fragments would have to be summed.
    (timescale != 0 && duration != 0 && duration != u64::MAX).then_some((duration, timescale))
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Finds the child box `kind` among the boxes in `[start, end)` and returns its payload range.
fn find_box<R: Read + Seek>(r: &mut R, start: u64, end: u64, kind: &[u8; 4]) -> Option<(u64, u64)> {
    let mut pos = start;
    for _ in 0..MAX_BOXES {
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
        if size < header_len {
            return None;
        }
        // A box announced longer than what holds it is a truncated file; still read what is there.
        let box_end = pos.saturating_add(size).min(end);
        if &header[4..8] == kind {
            return Some((pos + header_len, box_end));
        }
        pos = box_end;
    }
    None
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
        assert_eq!(duration(&mut Cursor::new(mvhd_file(0, 1000, 3700))), Some((3700, 1000)));
        assert_eq!(duration(&mut Cursor::new(mvhd_file(1, 48_000, 168_000))), Some((168_000, 48_000)));
        assert_eq!(duration(&mut Cursor::new(mvhd_file(0, 0, 3700))), None);
        assert_eq!(duration(&mut Cursor::new(mvhd_file(0, 1000, 0))), None);
    }

    #[test]
    fn media_mvhd_never_panics_on_any_truncation() {
        let file = mvhd_file(0, 1000, 3700);
        for len in 0..file.len() {
            let _ = duration(&mut Cursor::new(&file[..len]));
        }
    }
}
