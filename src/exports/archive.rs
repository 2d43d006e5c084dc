//! The media archive of a dataset export: a POSIX (ustar) tar written as a stream. Each entry is
//! a 512-byte header (made by the `tar` crate), the file's bytes as they are read from storage,
//! and zero padding to the next 512-byte block; two zero blocks end the archive. Nothing but the
//! current read buffer is ever held in memory, and the size in each header is known before its
//! bytes are read (a file whose size differs from its record is never started).

/// Size of a tar block.
pub const BLOCK: u64 = 512;

/// The header of a regular file entry of `size` bytes at `path`, modified at `mtime` (Unix
/// seconds), mode 0644.
pub fn file_header(path: &str, size: u64, mtime: u64) -> std::io::Result<[u8; 512]> {
    let mut header = tar::Header::new_ustar();
    header.set_path(path)?;
    header.set_size(size);
    header.set_mode(0o644);
    header.set_mtime(mtime);
    header.set_entry_type(tar::EntryType::Regular);
    header.set_cksum();
    Ok(*header.as_bytes())
}

/// The zeros that pad an entry of `size` bytes to a whole block.
pub fn padding(size: u64) -> &'static [u8] {
    const ZEROS: [u8; BLOCK as usize] = [0; BLOCK as usize];
    let rest = (size % BLOCK) as usize;
    if rest == 0 { &[] } else { &ZEROS[rest..] }
}

/// The end of an archive: two zero blocks.
pub const END: [u8; 2 * BLOCK as usize] = [0; 2 * BLOCK as usize];

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    #[test]
    fn entries_written_this_way_read_back_with_the_tar_crate() {
        let mut archive = Vec::new();
        for (path, body) in [("media/audio/a.ogg", &b"hello"[..]), ("media/text/b", &[7u8; 1024][..])] {
            archive.extend_from_slice(&file_header(path, body.len() as u64, 1_700_000_000).unwrap());
            archive.extend_from_slice(body);
            archive.extend_from_slice(padding(body.len() as u64));
            assert_eq!(archive.len() as u64 % BLOCK, 0);
        }
        archive.extend_from_slice(&END);
        let mut reader = tar::Archive::new(&archive[..]);
        let mut seen = Vec::new();
        for entry in reader.entries().unwrap() {
            let mut entry = entry.unwrap();
            let mut body = Vec::new();
            entry.read_to_end(&mut body).unwrap();
            seen.push((
                entry.path().unwrap().to_string_lossy().into_owned(),
                body.len(),
                entry.header().mtime().unwrap(),
            ));
        }
        assert_eq!(
            seen,
            vec![("media/audio/a.ogg".into(), 5, 1_700_000_000), ("media/text/b".into(), 1024, 1_700_000_000)]
        );
    }
}
