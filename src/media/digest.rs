//! Incremental SHA-256 of an upload's content, fed chunk by chunk while it streams to storage.

use sha2::{Digest, Sha256};

/// Incremental SHA-256; [`ContentDigest::finish`] gives lowercase hex.
#[derive(Debug, Clone, Default)]
pub struct ContentDigest(Sha256);

impl ContentDigest {
    /// A digest of nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds the next chunk of the content.
    pub fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    /// The SHA-256 of everything fed so far, as 64 lowercase hex digits.
    pub fn finish(self) -> String {
        hex::encode(self.0.finalize())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::tests::fixture;

    #[test]
    fn media_digest_of_nothing_is_the_known_empty_hash() {
        assert_eq!(ContentDigest::new().finish(), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    }

    #[test]
    fn media_digest_in_chunks_matches_sha256sum() {
        let bytes = std::fs::read(fixture("cbr.mp3")).unwrap();
        for chunk_size in [1, 7, 4096, bytes.len()] {
            let mut d = ContentDigest::new();
            bytes.chunks(chunk_size).for_each(|c| d.update(c));
            // From `sha256sum tests/fixtures/media/cbr.mp3`.
            assert_eq!(
                d.finish(),
                "da8b8ea9bd18bca9c597c3ab7cf3679cfc909b22346ae3999a23bbeae5aac048",
                "chunks of {chunk_size}"
            );
        }
    }
}
