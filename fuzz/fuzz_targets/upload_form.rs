//! The upload form reader (multipart framing, part limits, file-name decoding, field parsing and
//! validation of both upload forms) on any body, streamed in pieces of any size: no panic, and
//! memory bounded by the reader's limits (the fuzzer's RSS limit catches an unbounded buffer).
//!
//! Input layout: byte 0 picks the piece size, byte 1 the form (bit 0: chunk form; bit 1:
//! form-urlencoded instead of multipart), the rest is the body. Multipart bodies use the boundary
//! `b0undary`, as the seeds do.
#![no_main]

use std::sync::OnceLock;

use bytes::Bytes;
use corpus_te::http::records::upload::{UploadForm, chunks::ChunkForm, form::fuzz_read};
use libfuzzer_sys::fuzz_target;

fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap())
}

fn spool_dir() -> &'static std::path::Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().unwrap()).path()
}

fuzz_target!(|data: &[u8]| {
    let [piece, form, body @ ..] = data else { return };
    let piece = usize::from(*piece) * 37 + 1;
    let pieces: Vec<Bytes> = body.chunks(piece).map(Bytes::copy_from_slice).collect();
    let content_type =
        if form & 2 == 0 { "multipart/form-data; boundary=b0undary" } else { "application/x-www-form-urlencoded" };
    runtime().block_on(async {
        if form & 1 == 0 {
            fuzz_read::<UploadForm>(content_type, pieces, spool_dir()).await;
        } else {
            fuzz_read::<ChunkForm>(content_type, pieces, spool_dir()).await;
        }
    });
});
