//! Duration of a Matroska or WebM file, read by our own bounded EBML walk: the Segment Info
//! `Duration` (in units of `TimestampScale` nanoseconds) when the muxer wrote one, otherwise the
//! end of the last block found in the clusters (live recordings such as browser `MediaRecorder`
//! output have no header duration).
//!
//! Every size in the file is only a claim: the walk never allocates by one, skips by seeking
//! (bounded by the bytes really present), reads only fixed-width leaves, and gives up after a
//! bounded number of elements or a bounded time. Anything unexpected gives "unknown" (`None`).

use std::io::{BufReader, Read, Seek};
use std::time::{Duration, Instant};

const EBML_HEADER: u32 = 0x1A45_DFA3;
const SEGMENT: u32 = 0x1853_8067;
const INFO: u32 = 0x1549_A966;
const CLUSTER: u32 = 0x1F43_B675;
const BLOCK_GROUP: u32 = 0xA0;
const TIMESTAMP_SCALE: u32 = 0x2A_D7B1;
const DURATION: u32 = 0x4489;
const CLUSTER_TIMESTAMP: u32 = 0xE7;
const SIMPLE_BLOCK: u32 = 0xA3;
const BLOCK: u32 = 0xA1;
const BLOCK_DURATION: u32 = 0x9B;
/// Matroska's default `TimestampScale`: milliseconds.
const DEFAULT_SCALE_NS: u64 = 1_000_000;
/// Bounds the walk over a crafted file: far more blocks than hours of real audio or video hold.
const MAX_ELEMENTS: u64 = 20_000_000;
/// Bounds the time one file may take.
const MAX_WALK_TIME: Duration = Duration::from_secs(10);
/// Tracks whose block spacing is remembered (real files have a handful).
const MAX_TRACKS: usize = 16;

/// The duration in seconds, or `None` when it cannot be told (not Matroska, truncated before
/// any block, or beyond the walk's bounds).
pub(super) fn duration<R: Read + Seek>(source: R) -> Option<f64> {
    let mut r = Walker::new(source)?;
    let started = Instant::now();
    let mut scale = DEFAULT_SCALE_NS;
    let mut blocks = BlockEnds::default();
    let mut cluster_ts: u64 = 0;
    let mut in_segment = false;
    // Info's Duration, in TimestampScale units (which may come after it, so applied later).
    let mut claimed: Option<f64> = None;
    let header_seconds = |claimed: Option<f64>, scale: u64| {
        claimed.map(|d| d * scale as f64 / 1e9).filter(|s| s.is_finite() && *s > 0.0)
    };
    for walked in 0.. {
        // Past either bound the file is not a recording we can time: unknown, not a guess.
        if walked >= MAX_ELEMENTS || (walked % 4096 == 0 && started.elapsed() > MAX_WALK_TIME) {
            return None;
        }
        let Some(header) = r.header() else { break };
        match header.id {
            // Containers we descend into, whatever size they claim: their children follow.
            SEGMENT => in_segment = true,
            // The header's claim wins when it makes sense; otherwise the blocks tell.
            CLUSTER if in_segment && header_seconds(claimed, scale).is_some() => break,
            INFO | CLUSTER | BLOCK_GROUP if in_segment => {}
            TIMESTAMP_SCALE if in_segment => match header.size {
                Some(size @ 1..=8) => scale = r.uint(size)?.max(1),
                _ => return None,
            },
            DURATION if in_segment => {
                claimed = Some(match header.size {
                    Some(4) => f64::from(f32::from_bits(r.uint(4)? as u32)),
                    Some(8) => f64::from_bits(r.uint(8)?),
                    _ => return None,
                });
            }
            CLUSTER_TIMESTAMP if in_segment => match header.size {
                Some(size @ 0..=8) => cluster_ts = r.uint(size)?,
                _ => return None,
            },
            SIMPLE_BLOCK | BLOCK if in_segment => {
                let size = header.size?;
                let (track, relative) = r.block_head(size)?;
                blocks.block(track, cluster_ts.saturating_add_signed(i64::from(relative)));
                r.skip_to(header.data_start.checked_add(size)?)?;
            }
            BLOCK_DURATION if in_segment => match header.size {
                Some(size @ 0..=8) => blocks.last_duration(r.uint(size)?),
                _ => return None,
            },
            // Anything else (EBML header, tracks, cues, tags, voids, ...) is skipped whole; one
            // of unknown size cannot be skipped, so the walk ends with what it found.
            _ => r.skip_to(header.data_start.checked_add(header.size?)?)?,
        }
    }
    if let Some(seconds) = header_seconds(claimed, scale) {
        return Some(seconds);
    }
    let seconds = blocks.end()? as f64 * scale as f64 / 1e9;
    (seconds.is_finite() && seconds > 0.0).then_some(seconds)
}

/// Where the blocks end, in `TimestampScale` units: the largest block start plus that block's
/// duration (given, or the spacing of its track's previous two blocks).
#[derive(Default)]
struct BlockEnds {
    /// Per track: (number, last start, spacing before it).
    tracks: Vec<(u64, u64, u64)>,
    end: Option<u64>,
    last: Option<usize>,
}

impl BlockEnds {
    fn block(&mut self, track: u64, start: u64) {
        let slot = match self.tracks.iter().position(|t| t.0 == track) {
            Some(i) => {
                let (_, previous, spacing) = self.tracks[i];
                let spacing = if start > previous { start - previous } else { spacing };
                self.tracks[i] = (track, start, spacing);
                Some(i)
            }
            None if self.tracks.len() < MAX_TRACKS => {
                self.tracks.push((track, start, 0));
                Some(self.tracks.len() - 1)
            }
            None => None,
        };
        let spacing = slot.map_or(0, |i| self.tracks[i].2);
        self.last = slot;
        self.raise(start.saturating_add(spacing));
    }

    fn last_duration(&mut self, duration: u64) {
        if let Some(i) = self.last {
            let (_, start, _) = self.tracks[i];
            self.raise(start.saturating_add(duration));
        }
    }

    fn raise(&mut self, end: u64) {
        self.end = Some(self.end.map_or(end, |e| e.max(end)));
    }

    fn end(&self) -> Option<u64> {
        self.end.filter(|e| *e > 0)
    }
}

/// An element header: its id (with the length marker, as the specification writes ids), where
/// its data starts, and its size (`None` for "unknown size").
struct Header {
    id: u32,
    data_start: u64,
    size: Option<u64>,
}

/// A buffered reader that knows its position and the length of what it reads, so that every
/// claimed size can be checked against the bytes really present.
struct Walker<R> {
    inner: BufReader<R>,
    pos: u64,
    len: u64,
}

impl<R: Read + Seek> Walker<R> {
    fn new(mut source: R) -> Option<Self> {
        let len = source.seek(std::io::SeekFrom::End(0)).ok()?;
        source.seek(std::io::SeekFrom::Start(0)).ok()?;
        let mut walker = Self { inner: BufReader::with_capacity(64 * 1024, source), pos: 0, len };
        // Only EBML files are walked: the first element must be the EBML header.
        let first = walker.header()?;
        (first.id == EBML_HEADER).then_some(())?;
        walker.skip_to(first.data_start.checked_add(first.size?)?)?;
        Some(walker)
    }

    /// The next element's header, or `None` at the end of the data or on a malformed header.
    fn header(&mut self) -> Option<Header> {
        if self.pos >= self.len {
            return None;
        }
        let (id, id_len) = self.vint(4)?;
        let id = (id | (1 << (7 * id_len))) as u32;
        let (size, size_len) = self.vint(8)?;
        let unknown = size == (1u64 << (7 * size_len)) - 1;
        Some(Header { id, data_start: self.pos, size: (!unknown).then_some(size) })
    }

    /// Moves forward to `target`, which must lie within the file.
    fn skip_to(&mut self, target: u64) -> Option<()> {
        if target < self.pos || target > self.len {
            return None;
        }
        // Relative seeks keep the buffer when the target is in it: a walk over many small blocks
        // stays sequential reading.
        self.inner.seek_relative(i64::try_from(target - self.pos).ok()?).ok()?;
        self.pos = target;
        Some(())
    }

    fn bytes<const N: usize>(&mut self, n: usize) -> Option<[u8; N]> {
        let mut b = [0u8; N];
        self.inner.read_exact(b.get_mut(..n)?).ok()?;
        self.pos += n as u64;
        Some(b)
    }

    /// An EBML variable-length integer of at most `max_len` bytes, without its length marker.
    fn vint(&mut self, max_len: u32) -> Option<(u64, u32)> {
        let [first] = self.bytes::<1>(1)?;
        let len = first.leading_zeros() + 1;
        if len > max_len {
            return None;
        }
        let rest = self.bytes::<7>((len - 1) as usize)?;
        let value = rest[..(len - 1) as usize]
            .iter()
            .fold(u64::from(first) & ((1u64 << (8 - len)) - 1), |v, b| (v << 8) | u64::from(*b));
        Some((value, len))
    }

    /// A big-endian unsigned integer of `size` (0..=8) bytes.
    fn uint(&mut self, size: u64) -> Option<u64> {
        let n = usize::try_from(size).ok().filter(|n| *n <= 8)?;
        Some(self.bytes::<8>(n)?[..n].iter().fold(0u64, |v, b| (v << 8) | u64::from(*b)))
    }

    /// The head of a (Simple)Block of `size` bytes: its track number and its timestamp relative
    /// to the cluster.
    fn block_head(&mut self, size: u64) -> Option<(u64, i16)> {
        let start = self.pos;
        let (track, _) = self.vint(8)?;
        let relative = i16::from_be_bytes(self.bytes::<2>(2)?);
        (self.pos - start <= size).then_some((track, relative))
    }
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

    fn ebml_header() -> Vec<u8> {
        element(&[0x1A, 0x45, 0xDF, 0xA3], &element(&[0x42, 0x82], b"webm"))
    }

    fn segment(children: &[u8], unknown_size: bool) -> Vec<u8> {
        let mut f = vec![0x18, 0x53, 0x80, 0x67];
        if unknown_size {
            f.push(0xFF);
        } else {
            f.extend([0x40, children.len() as u8]);
        }
        f.extend(children);
        f
    }

    fn file(info: &[u8], segment_unknown_size: bool) -> Vec<u8> {
        let mut children = element(&[0xEC], &[0; 10]); // Void
        children.extend(element(&[0x15, 0x49, 0xA9, 0x66], info));
        children.extend(element(&[0x1F, 0x43, 0xB6, 0x75], &[0xE7, 0x81, 0x00]));
        let mut f = ebml_header();
        f.extend(segment(&children, segment_unknown_size));
        f
    }

    fn simple_block(track: u8, relative: i16) -> Vec<u8> {
        let mut payload = vec![0x80 | track];
        payload.extend(relative.to_be_bytes());
        payload.extend([0x80, 1, 2, 3]);
        element(&[0xA3], &payload)
    }

    /// An unknown-size cluster (as live muxers write) with blocks every 20 ms from `ts`.
    fn live_cluster(ts: u8, blocks: i16) -> Vec<u8> {
        let mut c = vec![0x1F, 0x43, 0xB6, 0x75, 0xFF];
        c.extend(element(&[0xE7], &[ts]));
        for i in 0..blocks {
            c.extend(simple_block(1, i * 20));
        }
        c
    }

    #[test]
    fn media_matroska_duration_with_scale_and_float_sizes() {
        let mut info = element(&[0x2A, 0xD7, 0xB1], &[0x0F, 0x42, 0x40]); // 1 ms
        info.extend(element(&[0x44, 0x89], &3700.5f64.to_bits().to_be_bytes()));
        assert_eq!(duration(Cursor::new(file(&info, false))), Some(3.7005));
        assert_eq!(duration(Cursor::new(file(&info, true))), Some(3.7005));

        let info = element(&[0x44, 0x89], &2500f32.to_bits().to_be_bytes()); // default scale
        assert_eq!(duration(Cursor::new(file(&info, false))), Some(2.5));
    }

    #[test]
    fn media_matroska_without_duration_or_blocks_is_none() {
        let info = element(&[0x2A, 0xD7, 0xB1], &[0x0F, 0x42, 0x40]);
        assert_eq!(duration(Cursor::new(file(&info, true))), None);
        let info = element(&[0x44, 0x89], &f64::NAN.to_bits().to_be_bytes());
        assert_eq!(duration(Cursor::new(file(&info, false))), None);
    }

    #[test]
    fn media_matroska_live_recording_is_timed_by_its_blocks() {
        // Two unknown-size clusters at 0 and 100 (ms), 5 blocks each, 20 ms apart: the last block
        // starts at 180 ms and lasts 20 ms like its predecessors.
        let mut children = element(&[0x15, 0x49, 0xA9, 0x66], &element(&[0x2A, 0xD7, 0xB1], &[0x0F, 0x42, 0x40]));
        children.extend(live_cluster(0, 5));
        children.extend(live_cluster(100, 5));
        let mut f = ebml_header();
        f.extend(segment(&children, true));
        assert_eq!(duration(Cursor::new(f)), Some(0.2));
    }

    /// The crash file of the hardening issue: an EBML header claiming 2^52 bytes around a DocType
    /// claiming 2^50. Nothing is allocated by those claims; the answer is "unknown".
    #[test]
    fn media_matroska_huge_claimed_sizes_are_unknown_not_allocated() {
        let mut f = vec![0x1A, 0x45, 0xDF, 0xA3, 0x01, 0x10, 0, 0, 0, 0, 0, 0];
        f.extend([0x42, 0x82, 0x01, 0x04, 0, 0, 0, 0, 0, 0]);
        f.extend(b"webm");
        f.resize(1024, 0);
        assert_eq!(duration(Cursor::new(f)), None);
    }

    #[test]
    fn media_matroska_never_panics_on_any_truncation() {
        let info = element(&[0x44, 0x89], &2500f64.to_bits().to_be_bytes());
        let f = file(&info, false);
        for len in 0..f.len() {
            let _ = duration(Cursor::new(&f[..len]));
        }
    }
}
