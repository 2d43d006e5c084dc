//! Office documents sniffed from their bytes: OOXML packages (a zip naming `[Content_Types].xml`),
//! OpenDocument files (a zip whose first entry is an uncompressed `mimetype`) and the legacy
//! Word, Excel and PowerPoint files (OLE compound files). PDF and plain text are found by
//! [`super::sniff`] itself.
//!
//! Nothing here parses a whole archive: entry names are read from the zip records found in the
//! bytes at hand (the first bytes, and the central directory at the end of the file), and a
//! compound file's kind from its first directory sector. Every read is bounded by the slices
//! passed in, so crafted files cost nothing but those bytes.

use std::ops::Range;

use super::Sniffed;
use crate::domain::MediaType;

const fn doc(mime: &'static str, extension: &'static str) -> Sniffed {
    Sniffed { mime, extension, kind: MediaType::Document }
}

pub(super) const PDF: Sniffed = doc("application/pdf", ".pdf");
const DOCX: Sniffed = doc("application/vnd.openxmlformats-officedocument.wordprocessingml.document", ".docx");
const XLSX: Sniffed = doc("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", ".xlsx");
const PPTX: Sniffed = doc("application/vnd.openxmlformats-officedocument.presentationml.presentation", ".pptx");
const ODT: Sniffed = doc("application/vnd.oasis.opendocument.text", ".odt");
const ODS: Sniffed = doc("application/vnd.oasis.opendocument.spreadsheet", ".ods");
const ODP: Sniffed = doc("application/vnd.oasis.opendocument.presentation", ".odp");
const ODG: Sniffed = doc("application/vnd.oasis.opendocument.graphics", ".odg");
const DOC: Sniffed = doc("application/msword", ".doc");
const XLS: Sniffed = doc("application/vnd.ms-excel", ".xls");
const PPT: Sniffed = doc("application/vnd.ms-powerpoint", ".ppt");

/// Bytes read from the end of a zip to find its central directory (which names every entry).
pub const ZIP_TAIL_LEN: u64 = 64 * 1024;

const ZIP_LOCAL: &[u8] = b"PK\x03\x04";
const ZIP_CENTRAL: &[u8] = b"PK\x01\x02";
const CFB_MAGIC: &[u8] = &[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];

/// Root-entry class ids (as stored, little-endian GUIDs) of Word, Excel and PowerPoint files.
const CFB_CLASSES: [([u8; 16], Sniffed); 4] = [
    (*b"\x06\x09\x02\x00\x00\x00\x00\x00\xc0\x00\x00\x00\x00\x00\x00\x46", DOC),
    (*b"\x20\x08\x02\x00\x00\x00\x00\x00\xc0\x00\x00\x00\x00\x00\x00\x46", XLS),
    (*b"\x10\x08\x02\x00\x00\x00\x00\x00\xc0\x00\x00\x00\x00\x00\x00\x46", XLS),
    (*b"\x10\x8d\x81\x64\x9b\x4f\xcf\x11\x86\xea\x00\xaa\x00\xb9\x29\xe8", PPT),
];

/// Main stream names of Word, Excel (97 and 5.0) and PowerPoint files.
const CFB_STREAMS: [(&str, Sniffed); 4] =
    [("WordDocument", DOC), ("Workbook", XLS), ("Book", XLS), ("PowerPoint Document", PPT)];

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// What a file starting with `prefix` is, when it is a zip or a compound file: `Some(Some(_))`
/// an office document, `Some(None)` a container that is none (refused), `None` neither
/// container (other sniffers decide). `extra` holds the bytes [`extra_range`] asked for (empty
/// when none were read; the prefix alone then decides what it can).
pub fn detect(prefix: &[u8], extra: &[u8]) -> Option<Option<Sniffed>> {
    if prefix.starts_with(ZIP_LOCAL) {
        Some(zip_kind(prefix, extra))
    } else if prefix.starts_with(CFB_MAGIC) {
        Some(cfb_kind(prefix, extra))
    } else {
        None
    }
}

/// The bytes of a `size`-byte file beyond `prefix` that [`detect`] needs: the end of a zip
/// (its central directory), or a compound file's first directory sector when the prefix does
/// not hold all of it. `None` when the prefix is all there is to read.
pub fn extra_range(prefix: &[u8], size: u64) -> Option<Range<u64>> {
    let have = prefix.len() as u64;
    if prefix.starts_with(ZIP_LOCAL) {
        let start = size.saturating_sub(ZIP_TAIL_LEN).max(have);
        return (start < size).then_some(start..size);
    }
    if prefix.starts_with(CFB_MAGIC) {
        let sector = cfb_directory_sector(prefix)?;
        return (sector.end > have && sector.start < size).then(|| sector.start..sector.end.min(size));
    }
    None
}

/// The names of the zip entries whose local or central-directory records are in `bytes`.
fn zip_names(bytes: &[u8]) -> impl Iterator<Item = &[u8]> {
    (0..bytes.len().saturating_sub(3)).filter_map(move |at| {
        let (len_at, name_at) = match &bytes[at..at + 4] {
            sig if sig == ZIP_LOCAL => (at + 26, at + 30),
            sig if sig == ZIP_CENTRAL => (at + 28, at + 46),
            _ => return None,
        };
        let len = usize::from(u16_at(bytes, len_at)?);
        bytes.get(name_at..name_at + len)
    })
}

fn zip_kind(prefix: &[u8], tail: &[u8]) -> Option<Sniffed> {
    if let Some(odf) = odf_kind(prefix) {
        return Some(odf);
    }
    let names = || zip_names(prefix).chain(zip_names(tail));
    if !names().any(|name| name == b"[Content_Types].xml") {
        return None;
    }
    names().find_map(|name| {
        [(&b"word/"[..], DOCX), (b"xl/", XLSX), (b"ppt/", PPTX)]
            .into_iter()
            .find_map(|(dir, kind)| name.starts_with(dir).then_some(kind))
    })
}

/// OpenDocument: the first entry is `mimetype`, stored uncompressed, holding the media type.
fn odf_kind(prefix: &[u8]) -> Option<Sniffed> {
    let name_len = usize::from(u16_at(prefix, 26)?);
    let extra_len = usize::from(u16_at(prefix, 28)?);
    if prefix.get(30..30 + name_len)? != b"mimetype" || u16_at(prefix, 8)? != 0 {
        return None;
    }
    let size = u32_at(prefix, 18)? as usize;
    let start = 30 + name_len + extra_len;
    let mimetype = prefix.get(start..start.checked_add(size)?)?;
    [ODT, ODS, ODP, ODG].into_iter().find(|kind| kind.mime.as_bytes() == mimetype)
}

/// Where a compound file's first directory sector is, from its header.
fn cfb_directory_sector(header: &[u8]) -> Option<Range<u64>> {
    let shift = u16_at(header, 0x1E)?;
    if shift != 9 && shift != 12 {
        return None;
    }
    let sector_size = 1u64 << shift;
    let first = u64::from(u32_at(header, 0x30)?);
    // Sector numbers from 0xFFFFFFFA up are markers, not sectors.
    if first >= 0xFFFF_FFFA {
        return None;
    }
    // Sector n starts after the header, which fills sector -1.
    let start = (first + 1) * sector_size;
    Some(start..start + sector_size)
}

/// Word, Excel or PowerPoint, from the root entry's class id or a main stream's name in the
/// first directory sector (in the prefix, or read as `extra`).
fn cfb_kind(prefix: &[u8], extra: &[u8]) -> Option<Sniffed> {
    let sector = cfb_directory_sector(prefix)?;
    let directory = if extra.is_empty() {
        let len = (sector.end - sector.start) as usize;
        let within = usize::try_from(sector.start).ok().and_then(|start| prefix.get(start..)).unwrap_or_default();
        &within[..within.len().min(len)]
    } else {
        extra
    };
    let root_class = directory.get(0x50..0x60)?;
    if let Some((_, kind)) = CFB_CLASSES.iter().find(|(class, _)| class == root_class) {
        return Some(*kind);
    }
    directory.chunks_exact(128).find_map(|entry| {
        let len = usize::from(u16_at(entry, 0x40)?).min(64);
        // Streams only (type 2); names are UTF-16LE with a terminating NUL counted in `len`.
        if entry[0x42] != 2 || len < 2 {
            return None;
        }
        let units: Vec<u16> = entry[..len - 2].chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]])).collect();
        let name = String::from_utf16(&units).ok()?;
        CFB_STREAMS.iter().find(|(stream, _)| *stream == name).map(|(_, kind)| *kind)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::tests::fixture;

    fn bytes(name: &str) -> Vec<u8> {
        std::fs::read(fixture(name)).unwrap()
    }

    /// What [`detect`] says from the first 8 KiB, with the extra bytes it asks for.
    fn detect_file(name: &str) -> Option<Option<Sniffed>> {
        let all = bytes(name);
        let prefix = &all[..all.len().min(8192)];
        let extra = extra_range(prefix, all.len() as u64)
            .map(|r| all[r.start as usize..r.end as usize].to_vec())
            .unwrap_or_default();
        detect(prefix, &extra)
    }

    #[test]
    fn office_fixtures_are_recognised() {
        for (name, expected) in
            [("doc.docx", DOCX), ("late.xlsx", XLSX), ("doc.odt", ODT), ("doc.doc", DOC), ("late.ppt", PPT)]
        {
            assert_eq!(detect_file(name), Some(Some(expected)), "{name}");
        }
    }

    #[test]
    fn containers_that_are_no_office_document_are_refused() {
        assert_eq!(detect_file("plain.zip"), Some(None));
        assert_eq!(detect_file("other.cfb"), Some(None));
        assert_eq!(detect_file("doc.pdf"), None, "not a container: sniff decides");
    }

    #[test]
    fn late_names_and_directories_need_the_extra_read() {
        // [Content_Types].xml of late.xlsx is named only in its central directory.
        let xlsx = bytes("late.xlsx");
        assert!(xlsx.len() > 8192);
        assert_eq!(detect(&xlsx[..8192], &[]), Some(None));
        assert_eq!(extra_range(&xlsx[..8192], xlsx.len() as u64), Some(8192..xlsx.len() as u64));
        // The directory of late.ppt is past the first 8 KiB.
        let ppt = bytes("late.ppt");
        let range = extra_range(&ppt[..8192], ppt.len() as u64).unwrap();
        assert_eq!(range, 17408..17920);
        assert_eq!(detect(&ppt[..8192], &[]), Some(None));
        // Small files need nothing more.
        let docx = bytes("doc.docx");
        assert_eq!(extra_range(&docx, docx.len() as u64), None);
        let doc = bytes("doc.doc");
        assert_eq!(extra_range(&doc[..doc.len().min(8192)], doc.len() as u64), None);
    }

    #[test]
    fn the_compound_file_fixtures_are_real_compound_files() {
        // infer opens a whole compound file with the `cfb` crate to read its class id.
        assert_eq!(infer::get(&bytes("doc.doc")).map(|t| t.mime_type()), Some("application/msword"));
    }

    #[test]
    fn truncated_and_hostile_headers_never_panic() {
        let docx = bytes("doc.docx");
        let doc = bytes("doc.doc");
        for cut in 0..docx.len() {
            let _ = detect(&docx[..cut], &docx[cut..]);
            let _ = extra_range(&docx[..cut], docx.len() as u64);
        }
        for cut in 0..doc.len().min(1200) {
            let _ = detect(&doc[..cut], &[]);
            let _ = extra_range(&doc[..cut], u64::MAX);
        }
        // A directory sector number at the very end of u32 and a 4096-byte sector shift.
        let mut header = doc[..512].to_vec();
        header[0x30..0x34].copy_from_slice(&0xFFFF_FFF9u32.to_le_bytes());
        header[0x1E] = 12;
        let start = 0xFFFF_FFFAu64 << 12;
        assert_eq!(extra_range(&header, u64::MAX), Some(start..start + 4096));
        assert_eq!(detect(&header, &[0u8; 3]), Some(None));
        // A local header claiming a name longer than the bytes.
        let mut zip = b"PK\x03\x04".to_vec();
        zip.extend([0u8; 22]);
        zip.extend(u16::MAX.to_le_bytes());
        assert_eq!(detect(&zip, &zip), Some(None));
    }
}
